import type { KeyObject } from "node:crypto";
import type { Logger } from "pino";
import type { AuthClient } from "../../api/authclient.ts";
import type { Clock } from "../../api/clock.ts";
import { storedFromProto } from "../../api/convert.ts";
import { findLock, type Lock, lockMessage, type Node, nodeLabels, type Role } from "../../api/resources/index.ts";
import { parseSshPublicKey } from "../crypto/index.ts";
import { ProxySshServer, type ResolvedNode, TunnelServer, tunnelOrDirectDialer } from "../proxy/index.ts";
import { AccessChecker } from "../rbac/index.ts";
import { startProxyForwarder } from "./proxy-forward.ts";

const NODE_CACHE_MS = 2_000;
const CA_REFRESH_MS = 5 * 60_000;

/**
 * The proxy's SSH side: the reverse-tunnel server agents dial, and the SSH
 * front door users log in to, routing to nodes that Auth knows.
 */
export async function startProxySsh(o: {
  auth: AuthClient;
  hostKey: KeyObject;
  hostCertificate: string;
  clusterName: string;
  /** Where the proxy spools the sessions it records. */
  dataDir: string;
  clock: Clock;
  log: Logger;
}) {
  const { auth, log } = o;
  const cas = { user: [] as KeyObject[], host: [] as KeyObject[] };
  const refreshCas = async () => {
    const [u, h] = await Promise.all([auth.exportAuthorities({ type: "user" }), auth.exportAuthorities({ type: "host" })]);
    cas.user = u.sshPublicKeys.map((k) => parseSshPublicKey(k));
    cas.host = h.sshPublicKeys.map((k) => parseSshPublicKey(k));
  };
  await refreshCas();
  const caTimer = setInterval(() => refreshCas().catch((e: unknown) => log.warn({ err: String(e) }, "cannot refresh CAs")), CA_REFRESH_MS);
  caTimer.unref();

  let nodes: { at: number; list: Node[] } | undefined;
  const listNodes = async (): Promise<Node[]> => {
    const now = o.clock.now().getTime();
    if (nodes && now - nodes.at < NODE_CACHE_MS) return nodes.list;
    const list = (await auth.listResources({ kind: "node" })).resources.map((r) => storedFromProto(r) as unknown as Node);
    nodes = { at: now, list };
    return list;
  };
  const resolveNode = async (host: string): Promise<ResolvedNode | undefined> => {
    const list = await listNodes();
    const n = list.find((x) => x.metadata.name === host) ?? list.find((x) => x.spec.hostname === host);
    if (!n) return undefined;
    return {
      hostId: n.metadata.name,
      name: n.spec.hostname,
      ...(n.spec.addr ? { addr: n.spec.addr } : {}),
      viaTunnel: n.spec.use_tunnel === true,
      agentless: n.sub_kind === "openssh",
      labels: nodeLabels(n),
    };
  };

  const tunnels = new TunnelServer({
    hostKey: o.hostKey,
    hostCertificate: o.hostCertificate,
    trustedHostCaKeys: () => cas.host,
    clock: o.clock,
    log: log.child({ component: "reversetunnel" }),
    onAgentConnected: (a) => {
      nodes = undefined;
      log.info({ hostId: a.hostId, addr: a.remoteAddr }, "agent connected");
    },
    onAgentDisconnected: (a) => log.info({ hostId: a.hostId }, "agent disconnected"),
    onAgentRefused: (r) => {
      void auth
        .emitAuditEvent({
          event: {
            event: "auth",
            success: false,
            user: r.hostId,
            error: `reverse tunnel refused: ${r.reason}`,
            addr_remote: r.remoteAddr,
          },
        })
        .catch(() => undefined);
    },
  });

  const forwarding = await startProxyForwarder({ auth, dataDir: o.dataDir, userCaKeys: () => cas.user, hostCaKeys: () => cas.host, clock: o.clock, log });

  const ssh = new ProxySshServer({
    hostKey: o.hostKey,
    hostCertificate: o.hostCertificate,
    trustedUserCaKeys: () => cas.user,
    trustedHostCaKeys: () => cas.host,
    resolveNode,
    // The proxy only refuses nodes the user could never log in to, so they cannot be probed; the node decides the login.
    authorizeRoute: async (user, node) => {
      let spec: { roles: string[]; traits: Record<string, string[]> };
      try {
        spec = storedFromProto(await auth.getResource({ kind: "user", name: user.name })).spec as typeof spec;
      } catch {
        return { allowed: false, reason: `user ${user.name} no longer exists` };
      }
      const roles: Role[] = [];
      for (const r of spec.roles) {
        try {
          roles.push(storedFromProto(await auth.getResource({ kind: "role", name: r })) as unknown as Role);
        } catch {
          // a deleted role grants nothing
        }
      }
      const locks = (await auth.listResources({ kind: "lock" })).resources.map((r) => storedFromProto(r) as unknown as Lock);
      const lock = findLock(locks, { user: user.name, roles: spec.roles, node: node.hostId }, o.clock.now());
      if (lock) return { allowed: false, reason: lockMessage(lock) };
      const checker = new AccessChecker(roles, spec.traits);
      // Agentless nodes are terminated at the proxy, which checks the very login asked for (forward.ts).
      const logins = checker.sshLogins();
      if (logins.some((l) => checker.checkNodeAccess({ labels: node.labels }, l).allowed)) return { allowed: true };
      const first = logins[0];
      const why = first ? checker.checkNodeAccess({ labels: node.labels }, first) : undefined;
      return {
        allowed: false,
        reason: `access to node ${node.name} denied${why && !why.allowed ? `: ${why.reason}` : ": you have no logins"}`,
      };
    },
    dialer: tunnelOrDirectDialer(tunnels),
    audit: (e) => {
      void auth.emitAuditEvent({ event: JSON.parse(JSON.stringify(e)) }).catch(() => undefined);
    },
    clusterName: o.clusterName,
    forwarder: forwarding.forwarder,
    clock: o.clock,
    log: log.child({ component: "sshproxy" }),
  });

  return {
    tunnels,
    ssh,
    /** A renewed host certificate (and key) for the SSH front door and the tunnel server; live connections keep theirs. */
    setHostIdentity: (key: KeyObject, cert: string) => {
      ssh.setHostKey(key, cert);
      tunnels.setHostKey(key, cert);
    },
    close: async () => {
      clearInterval(caTimer);
      tunnels.close();
      await forwarding.close();
    },
  };
}
