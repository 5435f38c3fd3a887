/**
 * The proxy's side of recording at the proxy: what the SSH proxy's Forwarder
 * needs, wired to Auth — the recording mode, host certificates under the
 * nodes' names and per-login user certificates (the proxy-only RPCs), the
 * node's own authorizer for the login, and the same spool recorder, uploader,
 * audit queue and session trackers the SSH service uses.
 */
import type { KeyObject } from "node:crypto";
import { join } from "node:path";
import type { Logger } from "pino";
import type { AuthClient } from "../../api/authclient.ts";
import type { Clock } from "../../api/clock.ts";
import { storedFromProto, toProto } from "../../api/convert.ts";
import { findLock, type Lock, lockMessage, type Role } from "../../api/resources/index.ts";
import { generateEd25519, type SshCertificate, sshPublicKeyLine } from "../crypto/index.ts";
import { createSpoolRecorderFactory, RecordingUploader } from "../events/index.ts";
import { type ForwardDecision, Forwarder, planRoute, type ResolvedNode, type SessionTracking } from "../proxy/index.ts";
import { AuditQueue } from "../srv/agent/index.ts";
import { RbacAuthorizer, TrackerKeeper } from "../srv/ssh/index.ts";
import { recordingModeReader } from "./recording-mode.ts";

/** Host certificates from Auth live an hour; a new one is asked for this long before. */
const HOST_CERT_MARGIN_MS = 10 * 60_000;

export interface ProxyForwardOptions {
  auth: AuthClient;
  dataDir: string;
  userCaKeys(): KeyObject[];
  /** Host CA keys: the nodes the proxy logs in to must present host certificates signed by one. */
  hostCaKeys(): KeyObject[];
  clock: Clock;
  log: Logger;
}

export async function startProxyForwarder(o: ProxyForwardOptions): Promise<{ forwarder: Forwarder; close(): Promise<void> }> {
  const { auth, clock, log } = o;
  const mode = recordingModeReader(auth, clock);

  // One key for every node the proxy speaks for, each with its own host certificate.
  const hostKey = generateEd25519();
  const hostCerts = new Map<string, Promise<{ certificate: string; expires: number }>>();
  const hostKeyFor = async (node: ResolvedNode) => {
    const now = clock.now().getTime();
    const cached = hostCerts.get(node.hostId);
    const current = cached ? await cached.catch(() => undefined) : undefined;
    let entry = cached;
    if (!entry || !current || current.expires - now < HOST_CERT_MARGIN_MS) {
      entry = auth
        .generateForwardingHostCert({ hostId: node.hostId, sshPublicKey: sshPublicKeyLine(hostKey.publicKey) })
        .then((r) => ({ certificate: r.sshCert, expires: Date.parse(r.expires) }));
      hostCerts.set(node.hostId, entry);
      entry.catch(() => hostCerts.delete(node.hostId));
    }
    return { key: hostKey.privateKey, certificate: (await entry).certificate };
  };

  const getUser = async (name: string) => {
    try {
      const spec = storedFromProto(await auth.getResource({ kind: "user", name })).spec as { roles: string[]; traits: Record<string, string[]> };
      return { roles: spec.roles, traits: spec.traits };
    } catch {
      return undefined;
    }
  };
  const getRole = async (name: string) => {
    try {
      return storedFromProto(await auth.getResource({ kind: "role", name })) as unknown as Role;
    } catch {
      return undefined;
    }
  };
  // The node's own checks, run here for the node's labels: what the node would decide.
  const authorizeLogin = async (req: {
    user: string;
    login: string;
    cert: SshCertificate;
    remoteAddr: string;
    node: ResolvedNode;
  }): Promise<ForwardDecision> => {
    const node = req.node;
    const authorizer = new RbacAuthorizer({
      getUser,
      getRole,
      labels: () => node.labels,
      userCaKeys: o.userCaKeys,
      nodeName: node.name,
      lockedBy: async (who) => {
        const locks = (await auth.listResources({ kind: "lock" })).resources.map((r) => storedFromProto(r) as unknown as Lock);
        const l = findLock(locks, { ...who, node: node.hostId }, clock.now());
        return l ? lockMessage(l) : undefined;
      },
      clock,
    });
    const r = await authorizer.authorize(req);
    if (r.allowed) return r;
    // sshd would accept the login: the proxy's check is the only one there.
    return node.agentless
      ? { allowed: false, reason: `OpenSSH node ${node.name} is reached through the proxy, which refuses this login (${req.login}): ${r.reason}` }
      : r;
  };

  const userCertFor = async (req: { user: string; login: string; node: ResolvedNode; notAfter: Date }) => {
    const k = generateEd25519();
    const r = await auth.generateForwardingUserCert({
      user: req.user,
      login: req.login,
      hostId: req.node.hostId,
      sshPublicKey: sshPublicKeyLine(k.publicKey),
      notAfter: req.notAfter.toISOString(),
    });
    return { key: k.privateKey, certificate: r.sshCert };
  };

  const dir = join(o.dataDir, "proxy", "recordings");
  const uploader = new RecordingUploader({
    dir,
    upload: async (part) => {
      const r = await auth.uploadRecordingPart({
        sessionId: part.sessionId,
        offset: BigInt(part.offset),
        data: part.data,
        complete: part.complete,
        ...(part.metadata ? { metadata: JSON.parse(JSON.stringify(part.metadata)) } : {}),
      });
      return { size: Number(r.size) };
    },
    clock,
    log,
  });
  await uploader.start();
  const queue = new AuditQueue({
    path: join(o.dataDir, "proxy", "audit-queue.jsonl"),
    send: async (e) => {
      await auth.emitAuditEvent({ event: JSON.parse(JSON.stringify(e)) });
    },
    log,
  });

  const sink = {
    put: async (t: Parameters<typeof toProto>[0]) => {
      await auth.upsertResource({ resource: toProto(t), overwrite: true });
    },
  };
  const tracking: SessionTracking = {
    start: (m) => {
      const keeper = new TrackerKeeper(
        sink,
        { sessionId: m.sessionId, login: m.login, owner: m.user, hostId: m.hostId, hostname: m.hostname, created: m.start },
        clock,
        log,
      );
      keeper.start([{ user: m.user, mode: "peer", joined: m.start }]);
      return { end: () => keeper.terminate() };
    },
  };

  const forwarder = new Forwarder({
    plan: async (node) => planRoute(await mode(), node),
    hostKeyFor,
    trustedUserCaKeys: o.userCaKeys,
    trustedHostCaKeys: o.hostCaKeys,
    authorizeLogin,
    userCertFor,
    recorders: createSpoolRecorderFactory({ dir, clock, uploader, log }),
    tracking,
    audit: (e) => queue.emit(JSON.parse(JSON.stringify(e))),
    clock,
    log: log.child({ component: "sshproxy-forward" }),
  });
  return {
    forwarder,
    close: async () => {
      await uploader.close();
      await queue.close();
    },
  };
}
