import type { KeyObject } from "node:crypto";
import { networkInterfaces } from "node:os";
import { join } from "node:path";
import type { Logger } from "pino";
import { type AuthClient, createAuthClient } from "../../api/authclient.ts";
import type { Clock } from "../../api/clock.ts";
import { VERSION } from "../../api/constants.ts";
import { storedFromProto, toProto } from "../../api/convert.ts";
import { findLock, type Lock, lockMessage, type Role } from "../../api/resources/index.ts";
import type { Identity } from "../client/index.ts";
import { parseSshPublicKey } from "../crypto/index.ts";
import { createSpoolRecorderFactory, RecordingUploader } from "../events/index.ts";
import { AuditQueue, type CommandLabelSpec, CommandLabels, Heartbeat } from "../srv/agent/index.ts";
import { RbacAuthorizer, SshService } from "../srv/ssh/index.ts";
import { ReverseTunnelAgent } from "../tunnel/index.ts";
import { recordingModeReader } from "./recording-mode.ts";

export interface NodeServiceOptions {
  dataDir: string;
  hostId: string;
  nodeName: string;
  clusterName: string;
  identity: Identity;
  /** How the node reaches Auth: directly (same host) or through the proxy's port. */
  auth: { addr: string; viaProxy?: { insecure: boolean } };
  /** The proxy to keep a reverse tunnel to; absent when `listen` is set. */
  proxyAddr?: string;
  proxyInsecure: boolean;
  /** CAs for the proxy's TLS certificate when it is not publicly trusted (e.g. our own self-signed one). */
  proxyCas?: string[];
  listen?: { host: string; port: number };
  /** host:port to announce for direct dialling; default: the listen address (see `announcedAddr`). */
  publicAddr?: string;
  labels: Record<string, string>;
  commands: CommandLabelSpec[];
  clock: Clock;
  log: Logger;
}

export interface RunningNode {
  ssh: SshService;
  listenPort?: number;
  close(): Promise<void>;
}

function authClientFor(o: NodeServiceOptions): AuthClient {
  const id = o.identity;
  return createAuthClient({
    addr: o.auth.addr,
    identity: { key: id.tlsKey.export({ format: "pem", type: "pkcs8" }).toString(), cert: id.tlsCert, cas: id.tlsCas },
    ...(o.auth.viaProxy ? { viaProxy: o.auth.viaProxy } : {}),
  });
}

/**
 * The SSH service of an agent: an SSH server with the host certificate,
 * authorizing against Auth's current users and roles, recording sessions,
 * reporting audit events, announcing itself, reached through a reverse tunnel
 * or on its own address.
 */
export async function startNodeService(o: NodeServiceOptions): Promise<RunningNode> {
  const log = o.log.child({ component: "node" });
  const auth = authClientFor(o);
  const closers: (() => Promise<void> | void)[] = [() => auth.close()];
  const close = async () => {
    for (const c of closers.reverse()) await Promise.resolve(c()).catch(() => undefined);
  };
  try {
    let userCaKeys: KeyObject[] = [];
    const refreshCas = async () => {
      const r = await auth.exportAuthorities({ type: "user" });
      userCaKeys = r.sshPublicKeys.map((k) => parseSshPublicKey(k));
    };
    await refreshCas();
    const caTimer = setInterval(() => refreshCas().catch((e: unknown) => log.warn({ err: String(e) }, "cannot refresh CAs")), 5 * 60_000);
    caTimer.unref();
    closers.push(() => clearInterval(caTimer));

    const cmd = new CommandLabels(o.commands, log, () => heartbeat.poke());
    await cmd.start();
    closers.push(() => cmd.stop());
    const labels = () => {
      const out = { ...o.labels };
      for (const [k, v] of Object.entries(cmd.current())) if (v.result !== undefined) out[k] = v.result;
      return out;
    };

    const queue = new AuditQueue({
      path: join(o.dataDir, "node", "audit-queue.jsonl"),
      send: async (e) => {
        await auth.emitAuditEvent({ event: JSON.parse(JSON.stringify(e)) });
      },
      log,
    });
    closers.push(() => queue.close());

    const uploader = new RecordingUploader({
      dir: join(o.dataDir, "node", "recordings"),
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
      clock: o.clock,
      log,
    });
    await uploader.start();
    closers.push(() => uploader.close());

    const authorizer = new RbacAuthorizer({
      getUser: async (name) => {
        try {
          const u = storedFromProto(await auth.getResource({ kind: "user", name }));
          const spec = u.spec as { roles: string[]; traits: Record<string, string[]> };
          return { roles: spec.roles, traits: spec.traits };
        } catch {
          return undefined;
        }
      },
      getRole: async (name) => {
        try {
          return storedFromProto(await auth.getResource({ kind: "role", name })) as unknown as Role;
        } catch {
          return undefined;
        }
      },
      labels,
      userCaKeys: () => userCaKeys,
      nodeName: o.nodeName,
      lockedBy: async (who) => {
        const locks = (await auth.listResources({ kind: "lock" })).resources.map((r) => storedFromProto(r) as unknown as Lock);
        const l = findLock(locks, { ...who, node: o.hostId }, o.clock.now());
        return l ? lockMessage(l) : undefined;
      },
      // In mode "proxy" the proxy records this node's sessions; in "off" nobody does.
      recordingMode: recordingModeReader(auth, o.clock),
      clock: o.clock,
    });

    const ssh = new SshService({
      hostKey: o.identity.sshKey,
      hostCertificate: o.identity.sshCert,
      hostId: o.hostId,
      nodeName: o.nodeName,
      clusterName: o.clusterName,
      authorizer,
      audit: (e) => queue.emit({ ...e, server_id: o.hostId, server_hostname: o.nodeName }),
      recorders: createSpoolRecorderFactory({ dir: join(o.dataDir, "node", "recordings"), clock: o.clock, uploader, log }),
      trackers: {
        put: async (t) => {
          await auth.upsertResource({ resource: toProto(t), overwrite: true });
        },
      },
      clock: o.clock,
      log,
    });
    closers.push(() => ssh.close());

    let listenPort: number | undefined;
    if (o.listen) {
      listenPort = await ssh.listen(o.listen.host, o.listen.port);
      log.info({ port: listenPort }, "SSH service is listening");
    } else if (o.proxyAddr) {
      const agent = new ReverseTunnelAgent({
        proxyAddr: o.proxyAddr,
        tls: { insecure: o.proxyInsecure, ...(o.proxyCas ? { cas: o.proxyCas } : {}) },
        // A small base keeps a restarted proxy's nodes back within seconds; the 30 s cap still spares a long outage.
        backoff: { baseMs: 100, capMs: 30_000 },
        hostId: o.hostId,
        hostKey: o.identity.sshKey,
        hostCertificate: o.identity.sshCert,
        onDial: (stream, info) => ssh.handleConnection(stream, { remoteAddr: info.clientAddr }),
        clock: o.clock,
        log,
      });
      agent.start();
      closers.push(() => agent.close());
    }

    const heartbeat = new Heartbeat({
      build: () => ({
        kind: "node",
        version: "v2",
        metadata: { name: o.hostId, labels: { ...o.labels } },
        spec: {
          addr: o.listen ? announcedAddr(o.listen.host, listenPort ?? o.listen.port, o.publicAddr) : "",
          hostname: o.nodeName,
          use_tunnel: !o.listen,
          version: VERSION,
          cmd_labels: Object.fromEntries(
            Object.entries(cmd.current()).map(([k, v]) => [
              k,
              { command: v.command, period: `${Math.round(v.periodMs / 1000)}s`, ...(v.result !== undefined ? { result: v.result } : {}) },
            ]),
          ),
        },
      }),
      announce: async (r) => {
        await auth.upsertResource({ resource: toProto(r), overwrite: true });
      },
      clock: o.clock,
      log,
    });
    await heartbeat.start();
    closers.push(() => heartbeat.stop());
    return { ssh, ...(listenPort !== undefined ? { listenPort } : {}), close };
  } catch (e) {
    await close();
    throw e;
  }
}

/**
 * The address the proxy dials for a node that listens itself: its public
 * address when configured, else the listen address — with a wildcard host
 * replaced by the host's first non-loopback IPv4 address (loopback when there
 * is none), since the proxy may run on another host.
 */
export function announcedAddr(listenHost: string, port: number, publicAddr?: string): string {
  if (publicAddr) return publicAddr;
  if (listenHost !== "0.0.0.0" && listenHost !== "::") return `${listenHost.includes(":") ? `[${listenHost}]` : listenHost}:${port}`;
  const external = Object.values(networkInterfaces())
    .flat()
    .find((i) => i !== undefined && i.family === "IPv4" && !i.internal);
  return `${external?.address ?? "127.0.0.1"}:${port}`;
}
