import { join } from "node:path";
import type { Logger } from "pino";
import { createAuthClient } from "../../api/authclient.ts";
import { systemClock } from "../../api/clock.ts";
import { badParameter } from "../../api/errors.ts";
import type { AuthServer } from "../auth/index.ts";
import type { Identity } from "../client/index.ts";
import { generateKeySet } from "../crypto/index.ts";
import type { CommandLabelSpec } from "../srv/agent/index.ts";
import { localHostIdentity } from "./auth-part.ts";
import { writeIdentityFile } from "./identity.ts";
import { joinThroughProxy, secondsLeft } from "./join.ts";
import { type NodeServiceOptions, type RunningNode, startNodeService } from "./node.ts";

/** Renew when a third of the certificate's life is left; check this often. */
const CHECK_MS = 10 * 60_000;
const RENEW_FRACTION = 1 / 3;
const HOST_TTL_S = 24 * 3600;

export interface NodePartOptions {
  dataDir: string;
  hostId: string;
  nodeName: string;
  labels: Record<string, string>;
  commands: CommandLabelSpec[];
  listen?: { host: string; port: number };
  publicAddr?: string;
  log: Logger;
  /** Same process as Auth: certificates come from it directly, the tunnel goes to our own proxy. */
  local?: { server: AuthServer; authAddr: string; proxyAddr?: string; proxyCert?: string };
  /** A separate agent: joins and reaches Auth through this proxy. */
  join?: { proxyAddr: string; token?: string; insecure: boolean };
}

/**
 * The SSH service with its host certificates kept fresh: when a third of their
 * life is left, new ones are obtained and the service restarts on them — only
 * between sessions, so a renewal never cuts anyone off.
 */
export async function startNodePart(o: NodePartOptions): Promise<{ clusterName: string; close(): Promise<void> }> {
  const { log } = o;
  let identity: Identity;
  let clusterName: string;
  let base: Omit<NodeServiceOptions, "identity">;
  const common = {
    dataDir: o.dataDir,
    hostId: o.hostId,
    nodeName: o.nodeName,
    labels: o.labels,
    commands: o.commands,
    clock: systemClock,
    log,
    ...(o.listen ? { listen: o.listen } : {}),
    ...(o.publicAddr ? { publicAddr: o.publicAddr } : {}),
  };
  let obtain: () => Promise<Identity>;
  if (o.local) {
    const l = o.local;
    obtain = async () => (await localHostIdentity(l.server, o.hostId, o.nodeName, "node", [])).identity;
    identity = await obtain();
    clusterName = l.server.clusterName;
    base = {
      ...common,
      clusterName,
      auth: { addr: l.authAddr },
      ...(l.proxyAddr && !o.listen ? { proxyAddr: l.proxyAddr } : {}),
      proxyInsecure: false,
      ...(l.proxyCert ? { proxyCas: [l.proxyCert] } : {}),
    };
  } else if (o.join) {
    const j = o.join;
    const path = join(o.dataDir, "node", "identity");
    const joined = await joinThroughProxy({
      path,
      proxyAddr: j.proxyAddr,
      insecure: j.insecure,
      token: j.token,
      hostId: o.hostId,
      nodeName: o.nodeName,
      role: "node",
      dnsNames: [],
      log,
    });
    identity = joined.identity;
    clusterName = joined.clusterName;
    base = {
      ...common,
      clusterName,
      auth: { addr: j.proxyAddr, viaProxy: { insecure: j.insecure } },
      ...(o.listen ? {} : { proxyAddr: j.proxyAddr }),
      proxyInsecure: j.insecure,
    };
    // Renewal asks Auth for new certificates as the host itself.
    obtain = async () => {
      const keys = generateKeySet();
      const client = createAuthClient({
        addr: j.proxyAddr,
        identity: { key: identity.tlsKey.export({ format: "pem", type: "pkcs8" }).toString(), cert: identity.tlsCert, cas: identity.tlsCas },
        viaProxy: { insecure: j.insecure },
      });
      try {
        const c = await client.generateHostCerts({
          hostId: o.hostId,
          nodeName: o.nodeName,
          role: "node",
          sshPublicKey: keys.sshPublicKey,
          tlsPublicKey: keys.tlsPublicKey,
        });
        const next: Identity = {
          sshKey: keys.ssh.privateKey,
          sshCert: c.sshCert,
          tlsKey: keys.tls.privateKey,
          tlsCert: c.tlsCert,
          tlsCas: c.hostCaCerts,
          knownHosts: [],
        };
        writeIdentityFile(path, next);
        return next;
      } finally {
        client.close();
      }
    };
  } else {
    throw badParameter("a node without a local Auth Service needs --proxy HOST:PORT and --token TOKEN");
  }

  let node: RunningNode = await startNodeService({ ...base, identity });
  let closed = false;
  const timer = setInterval(() => {
    if (closed || secondsLeft(identity) > HOST_TTL_S * RENEW_FRACTION) return;
    if (node.ssh.activeSessions().length > 0) {
      log.info("host certificates due for renewal; waiting for active sessions to end");
      return;
    }
    void (async () => {
      const next = await obtain();
      // One service at a time owns the spool files: stop the old one, then start on the new certificates.
      await node.close();
      identity = next;
      node = await startNodeService({ ...base, identity });
      log.info("host certificates renewed");
    })().catch((e: unknown) => log.error({ err: e instanceof Error ? e.message : String(e) }, "cannot renew host certificates"));
  }, CHECK_MS);
  timer.unref();
  return {
    clusterName,
    close: async () => {
      closed = true;
      clearInterval(timer);
      await node.close();
    },
  };
}
