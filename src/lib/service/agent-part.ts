/**
 * What the Database, Application and Kubernetes Services share as parts of the
 * daemon: a host id and identity of their own (`<data_dir>/<role>/`, joined
 * through the proxy or issued by a local Auth), host certificates renewed
 * between sessions, an Auth client for the identity, the user CA kept fresh,
 * a disk-backed audit queue, the reverse tunnel to the proxy, heartbeats, and
 * the user/role/lock reads that every connection makes, shared for a moment.
 *
 * A part supplies `start(ctx)`, which builds its service on one identity; it
 * is called again (after the previous one is closed) whenever the
 * certificates are renewed.
 */
import { join } from "node:path";
import type { Duplex } from "node:stream";
import type { Logger } from "pino";
import { type AuthClient, createAuthClient } from "../../api/authclient.ts";
import { type Clock, systemClock } from "../../api/clock.ts";
import { storedFromProto, toProto } from "../../api/convert.ts";
import { badParameter } from "../../api/errors.ts";
import type { StoredResource } from "../../api/resource.ts";
import { findLock, type Lock, lockMessage, type Role } from "../../api/resources/index.ts";
import type { AuthServer } from "../auth/index.ts";
import type { Identity } from "../client/index.ts";
import { generateKeySet } from "../crypto/index.ts";
import { type AgentEvent, AuditQueue, type CommandLabels, Heartbeat } from "../srv/agent/index.ts";
import { ReverseTunnelAgent } from "../tunnel/index.ts";
import { type Announcer, type AuthReads, announcer, authReads } from "./agent-resources.ts";
import { localHostIdentity } from "./auth-part.ts";
import { hostUuid, writeIdentityFile } from "./identity.ts";
import { joinThroughProxy, secondsLeft } from "./join.ts";

const CHECK_MS = 10 * 60_000;
const RENEW_FRACTION = 1 / 3;
const HOST_TTL_S = 24 * 3600;
const CA_REFRESH_MS = 5 * 60_000;

export type AgentRole = "db" | "app" | "kube";

/** Same process as Auth: certificates come from it directly, the tunnel goes to our own proxy. */
export interface AgentLocal {
  server: AuthServer;
  authAddr: string;
  proxyAddr?: string;
  proxyCert?: string;
}

/** A separate agent: joins and reaches Auth through this proxy. */
export interface AgentJoin {
  proxyAddr: string;
  token?: string;
  insecure: boolean;
}

export interface DialTarget {
  clientAddr: string;
  target?: string;
}

/** What `start` builds: one running service on one identity. */
export interface AgentService {
  /** Sessions or streams in progress; renewal waits for none (see `forceRenewFraction`). */
  activeSessions(): number;
  /** One stream from the proxy (a tunnel dial whose target has the part's prefix, or a direct connection). */
  handleConnection(stream: Duplex, info: DialTarget): Promise<void> | void;
  close(): Promise<void> | void;
}

export interface AgentContext {
  role: AgentRole;
  hostId: string;
  nodeName: string;
  dataDir: string;
  /** `<data_dir>/<subdir>`: this part's own files. */
  dir: string;
  identity: Identity;
  /** Auth as this identity; closed after the service. */
  auth: AuthClient;
  clock: Clock;
  log: Logger;
  /** User CA certificates (PEM), refreshed every few minutes: the trust anchors for client certificates. */
  userCas(): string[];
  /** Queues an audit event on disk (`<dir>/audit-queue.jsonl`) and sends it to Auth in batches. */
  audit(e: AgentEvent): void;
  reads: AuthReads;
  /** Runs `fn` when this service stops (in reverse order of registration, before the Auth client closes). */
  onClose(fn: () => Promise<void> | void): void;
  announcer(o: { kind: string; entryName(name: string): string; build(name: string): StoredResource | undefined }): Announcer;
}

export interface AgentPartOptions<S extends AgentService> {
  role: AgentRole;
  /** For messages: "Database Service". */
  title: string;
  dataDir: string;
  /** The folder under `dataDir` for host_uuid, identity and spools; default the role. */
  subdir?: string;
  nodeName: string;
  log: Logger;
  local?: AgentLocal;
  join?: AgentJoin;
  /** Tunnel dials whose target starts with this reach the service; others are closed. */
  dialPrefix: string;
  /** Below this fraction of the host TTL, renew even with sessions open (long-lived streams); default: wait. */
  forceRenewFraction?: number;
  start(ctx: AgentContext): Promise<S>;
}

export interface AgentPart {
  clusterName: string;
  hostId: string;
  /** A stream that did not come through the tunnel (a direct connection, a test): served like a tunnel dial. */
  handleConnection(stream: Duplex, info: DialTarget): Promise<void>;
  close(): Promise<void>;
}

interface RunBase {
  hostId: string;
  auth: { addr: string; viaProxy?: { insecure: boolean } };
  proxyAddr: string;
  proxyInsecure: boolean;
  proxyCas?: string[];
}

const article = (title: string) => (/^[AEIOU]/.test(title) ? "an" : "a");

/**
 * Starts an agent service with its own host id (`<data_dir>/<subdir>/host_uuid`)
 * and keeps its host certificates fresh: when a third of their life is left,
 * new ones are obtained and the service restarts on them — between sessions
 * (or, with `forceRenewFraction`, once little life is left).
 */
export async function startAgentPart<S extends AgentService>(o: AgentPartOptions<S>): Promise<AgentPart> {
  const { log, title } = o;
  const subdir = o.subdir ?? o.role;
  const hostId = hostUuid(join(o.dataDir, subdir));
  let identity: Identity;
  let clusterName: string;
  let base: RunBase;
  let obtain: () => Promise<Identity>;
  if (o.local) {
    const l = o.local;
    if (!l.proxyAddr) throw badParameter(`the ${title} needs a proxy to reach it (run the proxy here or set proxy_server)`);
    obtain = async () => (await localHostIdentity(l.server, hostId, o.nodeName, o.role, [])).identity;
    identity = await obtain();
    clusterName = l.server.clusterName;
    base = { hostId, auth: { addr: l.authAddr }, proxyAddr: l.proxyAddr, proxyInsecure: false, ...(l.proxyCert ? { proxyCas: [l.proxyCert] } : {}) };
  } else if (o.join) {
    const j = o.join;
    const path = join(o.dataDir, subdir, "identity");
    const joined = await joinThroughProxy({
      path,
      proxyAddr: j.proxyAddr,
      insecure: j.insecure,
      token: j.token,
      hostId,
      nodeName: o.nodeName,
      role: o.role,
      dnsNames: [],
      log,
    });
    identity = joined.identity;
    clusterName = joined.clusterName;
    base = { hostId, auth: { addr: j.proxyAddr, viaProxy: { insecure: j.insecure } }, proxyAddr: j.proxyAddr, proxyInsecure: j.insecure };
    // Renewal asks Auth for new certificates as the host itself.
    obtain = async () => {
      const keys = generateKeySet();
      const client = authClientFor(base, identity);
      try {
        const c = await client.generateHostCerts({
          hostId,
          nodeName: o.nodeName,
          role: o.role,
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
    throw badParameter(`${article(title)} ${title} without a local Auth Service needs --proxy HOST:PORT and --token TOKEN`);
  }

  const run = (id: Identity) => runService(o, { ...base, dataDir: o.dataDir, dir: join(o.dataDir, subdir), identity: id });
  let running = await run(identity);
  let closed = false;
  const timer = setInterval(() => {
    const left = secondsLeft(identity);
    if (closed || left > HOST_TTL_S * RENEW_FRACTION) return;
    if (running.service.activeSessions() > 0 && left > HOST_TTL_S * (o.forceRenewFraction ?? 0)) {
      log.info(`${title} certificates due for renewal; waiting for active sessions to end`);
      return;
    }
    void (async () => {
      const next = await obtain();
      await running.close();
      identity = next;
      running = await run(identity);
      log.info(`${title} certificates renewed`);
    })().catch((e: unknown) => log.error({ err: e instanceof Error ? e.message : String(e) }, `cannot renew ${title} certificates`));
  }, CHECK_MS);
  timer.unref();
  return {
    clusterName,
    hostId,
    handleConnection: async (stream, info) => {
      await running.service.handleConnection(stream, info);
    },
    close: async () => {
      closed = true;
      clearInterval(timer);
      await running.close();
    },
  };
}

function authClientFor(base: Pick<RunBase, "auth">, id: Identity): AuthClient {
  return createAuthClient({
    addr: base.auth.addr,
    identity: { key: id.tlsKey.export({ format: "pem", type: "pkcs8" }).toString(), cert: id.tlsCert, cas: id.tlsCas },
    ...(base.auth.viaProxy ? { viaProxy: base.auth.viaProxy } : {}),
  });
}

/** One run of the service on one identity: Auth client, user CA, audit queue, the service, then the tunnel. */
async function runService<S extends AgentService>(
  o: AgentPartOptions<S>,
  r: RunBase & { dataDir: string; dir: string; identity: Identity },
): Promise<{ service: S; close(): Promise<void> }> {
  const log = o.log.child({ component: o.role });
  const clock = systemClock;
  const auth = authClientFor(r, r.identity);
  const closers: (() => Promise<void> | void)[] = [() => auth.close()];
  const close = async () => {
    for (const c of closers.reverse()) await Promise.resolve(c()).catch(() => undefined);
  };
  try {
    let userCas = (await auth.exportAuthorities({ type: "user" })).tlsCerts;
    const caTimer = setInterval(() => {
      auth
        .exportAuthorities({ type: "user" })
        .then((x) => {
          userCas = x.tlsCerts;
        })
        .catch((e: unknown) => log.warn({ err: String(e) }, "cannot refresh the user CA"));
    }, CA_REFRESH_MS);
    caTimer.unref();
    closers.push(() => clearInterval(caTimer));

    const queue = new AuditQueue({
      path: join(r.dir, "audit-queue.jsonl"),
      send: async (e) => {
        await auth.emitAuditEvent({ event: JSON.parse(JSON.stringify(e)) });
      },
      // Queries and HTTP requests are events: at thousands a second, one call per batch instead of per event.
      sendBatch: async (events) => {
        await auth.emitAuditEvent({ events: JSON.parse(JSON.stringify(events)) });
      },
      log,
    });
    closers.push(() => queue.close());

    const ctx: AgentContext = {
      role: o.role,
      hostId: r.hostId,
      nodeName: o.nodeName,
      dataDir: r.dataDir,
      dir: r.dir,
      identity: r.identity,
      auth,
      clock,
      log,
      userCas: () => userCas,
      audit: (e) => queue.emit(e),
      reads: authReads(auth, clock, r.hostId),
      onClose: (fn) => closers.push(fn),
      announcer: (a) => announcer(auth, clock, log, a, (fn) => closers.push(fn)),
    };
    const service = await o.start(ctx);
    closers.push(() => service.close());

    const agent = new ReverseTunnelAgent({
      proxyAddr: r.proxyAddr,
      tls: { insecure: r.proxyInsecure, ...(r.proxyCas ? { cas: r.proxyCas } : {}) },
      backoff: { baseMs: 100, capMs: 30_000 },
      hostId: r.hostId,
      hostKey: r.identity.sshKey,
      hostCertificate: r.identity.sshCert,
      onDial: (stream, info) => {
        if (!info.target.startsWith(o.dialPrefix)) {
          stream.destroy();
          return;
        }
        void Promise.resolve(service.handleConnection(stream, { clientAddr: info.clientAddr, target: info.target })).catch((e: unknown) => {
          log.error({ err: String(e) }, "stream failed");
          stream.destroy();
        });
      },
      clock,
      log,
    });
    agent.start();
    closers.push(() => agent.close());
    return { service, close };
  } catch (e) {
    await close();
    throw e;
  }
}

export { type Announcer, type AuthReads, announcedLabels, authReads, followRegistered, matchesResource } from "./agent-resources.ts";
