/**
 * The Kubernetes Service's side of a stream (DESIGN §6): reads the header the
 * proxy sends first (`api/kubewire.ts`), verifies the user certificate in it
 * against the user CA itself — validity, that it names this cluster, the
 * user's current roles and traits, locks — then hands each request on the
 * stream (HTTP/1.1 with keep-alive, upgrades for exec/attach/port-forward) to
 * the cluster's `KubeForwarder`. Before a request the decision is taken again
 * once it is older than `recheckMs`; long requests (watches, exec sessions)
 * are checked every `watchMs` and cut when the certificate expires or a lock
 * appears. A refusal reaches kubectl as a Kubernetes `Status`.
 */
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import type { Logger } from "pino";
import type { Clock } from "../../../api/clock.ts";
import { isJumpgateError } from "../../../api/errors.ts";
import { decodeKubeHeader, KUBE_DIAL_PREFIX, type KubeConnHeader, MAX_KUBE_HEADER_BYTES } from "../../../api/kubewire.ts";
import type { Role } from "../../../api/resources/index.ts";
import { type Identity, VerifiedIdentityCache } from "../../crypto/index.ts";
import { StreamSocket } from "../../httpfwd/index.ts";
import { readStreamHeader, type StreamHeaderKind } from "../agent/index.ts";
import type { KubeUser } from "./access.ts";
import { KubeAccessError, kubeForbidden, sendKubeStatus, writeKubeStatus } from "./errors.ts";
import type { KubeAuditEvent, KubeForwarder } from "./forwarder.ts";

export interface KubeServiceOptions {
  /** This service's host id and name (audit, messages). */
  hostId: string;
  nodeName: string;
  /** The clusters served now, by name. */
  clusters(): ReadonlyMap<string, KubeForwarder>;
  /** User CA certificates (PEM): the only trust anchors for client certificates. */
  userCas(): string[];
  /** The user's *current* roles and traits from Auth; undefined when the user no longer exists. */
  getUser(name: string): Promise<{ roles: string[]; traits: Record<string, string[]> } | undefined>;
  getRole(name: string): Promise<Role | undefined>;
  /** A lock in force on the user or one of the roles: its message; undefined when none. */
  lockedBy(who: { user: string; roles: string[] }): Promise<string | undefined>;
  /** Queues an audit event; must not throw. */
  audit(e: KubeAuditEvent): void;
  clock: Clock;
  log: Logger;
  /** How long the proxy may take to send the stream header; default 10 s. */
  headerTimeoutMs?: number;
  /** A stream's decision is taken again before a request once it is this old; default 1 s. */
  recheckMs?: number;
  /** How often requests in progress (watches, exec sessions) are checked; default 5 s. */
  watchMs?: number;
  /** How long an idle keep-alive stream stays open; default 60 s. */
  keepAliveMs?: number;
}

/** One stream from the proxy and what was decided about it. */
interface Stream {
  cluster: string;
  clientAddr: string;
  socket: StreamSocket;
  /** Set when the stream was refused: every request gets this Status. */
  refused?: KubeAccessError;
  identity?: Identity;
  user?: KubeUser;
  /** When the decision was last taken (monotonic ms). */
  checkedAt: number;
  checking?: Promise<void>;
  /** Requests and upgrades in progress. */
  inflight: number;
}

const KUBE_HEADER: StreamHeaderKind<KubeConnHeader> = { decode: decodeKubeHeader, maxBytes: MAX_KUBE_HEADER_BYTES, label: "kube stream header" };
const REFUSED_IDLE_MS = 15_000;
const WARN_BURST = 20;
const WARN_WINDOW_MS = 60_000;

export class KubeService {
  private readonly active = new Set<Duplex>();
  private readonly admitted = new Set<Stream>();
  private readonly streams = new WeakMap<object, Stream>();
  private readonly verified = new VerifiedIdentityCache();
  private readonly server: http.Server;
  private readonly watch: NodeJS.Timeout;
  private closed = false;
  private warned = { at: 0, count: 0 };

  constructor(private readonly o: KubeServiceOptions) {
    // No request deadline: watches and exec sessions run as long as they need (and as the certificate allows).
    this.server = http.createServer({ requestTimeout: 0 }, (req, res) => {
      void this.onRequest(req, res).catch((e: unknown) => {
        this.o.log.error({ err: String(e) }, "kube request failed");
        res.destroy();
      });
    });
    this.server.keepAliveTimeout = o.keepAliveMs ?? 60_000;
    this.server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      void this.onUpgrade(req, socket, head).catch((e: unknown) => {
        this.o.log.error({ err: String(e) }, "kube upgrade failed");
        socket.destroy();
      });
    });
    this.watch = setInterval(() => this.watchLong(), o.watchMs ?? 5_000);
    this.watch.unref();
  }

  /** Streams open now (renewal waits for none). */
  activeSessions(): number {
    return this.active.size;
  }

  /** One stream from the proxy: a reverse-tunnel dial with target `kube:CLUSTER` (or a direct connection). */
  async handleConnection(stream: Duplex, info: { clientAddr: string; target?: string }): Promise<void> {
    if (this.closed) {
      stream.destroy();
      return;
    }
    this.active.add(stream);
    stream.once("close", () => this.active.delete(stream));
    stream.on("error", () => stream.destroy());
    const wanted = info.target?.startsWith(KUBE_DIAL_PREFIX) ? info.target.slice(KUBE_DIAL_PREFIX.length) : undefined;
    let header: KubeConnHeader;
    try {
      header = await readStreamHeader(stream, KUBE_HEADER, this.o.headerTimeoutMs ?? 10_000);
    } catch (e) {
      this.warn({ clientAddr: info.clientAddr, err: isJumpgateError(e) ? e.message : String(e) }, "kube stream without a valid header");
      stream.destroy();
      return;
    }
    const clientAddr = header.clientAddr || info.clientAddr;
    let identity: Identity | undefined;
    let user: KubeUser;
    try {
      if (wanted !== undefined && wanted !== header.cluster)
        throw kubeForbidden(`the proxy routed a stream for Kubernetes cluster ${header.cluster} to ${wanted}`);
      identity = this.verify(header.cert);
      if (identity.kubernetesCluster === undefined || identity.kubernetesCluster === "") {
        throw kubeForbidden(`this certificate is not for a Kubernetes cluster: run jsh kube login ${header.cluster}`);
      }
      if (identity.kubernetesCluster !== header.cluster) {
        throw kubeForbidden(
          `this certificate is for Kubernetes cluster ${identity.kubernetesCluster}, not ${header.cluster}: run jsh kube login ${header.cluster}`,
        );
      }
      if (!this.o.clusters().has(header.cluster))
        throw new KubeAccessError("NotFound", `Kubernetes cluster ${header.cluster} is not served by ${this.o.nodeName}`);
      user = await this.authorize(identity);
    } catch (e) {
      const refused = this.toKubeError(e);
      this.emit({
        event: "kube.request",
        ...(identity ? { user: identity.username } : {}),
        addr_remote: clientAddr,
        kubernetes_cluster: header.cluster,
        response_code: refused.status.code,
        success: false,
        error: refused.message,
      });
      this.serve(stream, { cluster: header.cluster, clientAddr, refused });
      return;
    }
    this.serve(stream, { cluster: header.cluster, clientAddr, identity, user });
  }

  /** Stops taking streams and closes those in progress. */
  close(): void {
    this.closed = true;
    clearInterval(this.watch);
    for (const s of this.active) s.destroy();
    this.server.close();
  }

  private serve(stream: Duplex, d: Pick<Stream, "cluster" | "clientAddr" | "refused" | "identity" | "user">): void {
    if (this.closed) {
      stream.destroy();
      return;
    }
    const socket = new StreamSocket(stream, d.clientAddr);
    // A client that goes away is no error of ours (and after an upgrade node's own listener is gone).
    socket.on("error", () => socket.destroy());
    const s: Stream = { ...d, socket, checkedAt: performance.now(), inflight: 0 };
    this.streams.set(socket, s);
    if (s.refused) socket.setTimeout(REFUSED_IDLE_MS);
    else {
      this.admitted.add(s);
      socket.once("close", () => this.admitted.delete(s));
    }
    this.server.emit("connection", socket);
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const s = this.streams.get(req.socket);
    if (!s) {
      res.destroy();
      return;
    }
    if (s.refused) {
      res.setHeader("connection", "close");
      sendKubeStatus(res, s.refused.status);
      return;
    }
    s.inflight++;
    res.once("close", () => s.inflight--);
    const admitted = await this.admit(s, req);
    if (admitted instanceof KubeAccessError) {
      res.setHeader("connection", "close");
      sendKubeStatus(res, admitted.status);
      return;
    }
    await admitted.forwarder.handleRequest(req, res, { user: admitted.user, clientAddr: ipOf(s.clientAddr) });
  }

  private async onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const s = this.streams.get(socket);
    if (!s) {
      socket.destroy();
      return;
    }
    if (s.refused) {
      writeKubeStatus(socket, s.refused.status);
      return;
    }
    s.inflight++;
    socket.once("close", () => s.inflight--);
    const admitted = await this.admit(s, req);
    if (admitted instanceof KubeAccessError) {
      writeKubeStatus(socket, admitted.status);
      return;
    }
    await admitted.forwarder.handleUpgrade(req, socket, head, { user: admitted.user, clientAddr: ipOf(s.clientAddr) });
  }

  /** The request may go on (expiry always, user and locks when the last decision is old); else the refusal, audited. */
  private async admit(s: Stream, req: IncomingMessage): Promise<{ forwarder: KubeForwarder; user: KubeUser } | KubeAccessError> {
    try {
      const forwarder = this.o.clusters().get(s.cluster);
      if (!forwarder) throw new KubeAccessError("NotFound", `Kubernetes cluster ${s.cluster} is no longer served by ${this.o.nodeName}`);
      await this.recheck(s);
      if (!s.user) throw kubeForbidden("access denied");
      return { forwarder, user: s.user };
    } catch (e) {
      const err = this.toKubeError(e);
      const url = req.url ?? "/";
      const q = url.indexOf("?");
      this.emit({
        event: "kube.request",
        ...(s.identity ? { user: s.identity.username } : {}),
        addr_remote: s.clientAddr,
        request_path: (q < 0 ? url : url.slice(0, q)).slice(0, 2048),
        kubernetes_cluster: s.cluster,
        response_code: err.status.code,
        success: false,
        error: err.message,
      });
      return err;
    }
  }

  /** Expiry now; the user's roles, traits and locks again once the last decision is `recheckMs` old. */
  private async recheck(s: Stream): Promise<void> {
    const id = s.identity;
    if (!id) throw kubeForbidden("access denied");
    if (this.o.clock.now().getTime() >= id.expires.getTime()) {
      throw kubeForbidden(`your certificate for Kubernetes cluster ${s.cluster} has expired: run jsh kube login ${s.cluster}`);
    }
    if (performance.now() - s.checkedAt < (this.o.recheckMs ?? 1_000)) return;
    s.checking ??= this.authorize(id)
      .then((user) => {
        s.user = user;
        s.checkedAt = performance.now();
      })
      .finally(() => {
        s.checking = undefined;
      });
    await s.checking;
  }

  /** Long requests (watches, exec, attach, port-forward) end when the certificate expires or a lock appears. */
  private watchLong(): void {
    for (const s of this.admitted) {
      if (s.inflight <= 0) continue;
      this.recheck(s).catch((e: unknown) => {
        const err = this.toKubeError(e);
        this.o.log.info({ user: s.identity?.username, cluster: s.cluster, reason: err.message }, "closing a Kubernetes stream in progress");
        this.emit({
          event: "kube.request",
          ...(s.identity ? { user: s.identity.username } : {}),
          addr_remote: s.clientAddr,
          kubernetes_cluster: s.cluster,
          response_code: err.status.code,
          success: false,
          error: `closed in progress: ${err.message}`,
        });
        s.socket.destroy();
      });
    }
  }

  private verify(pem: string): Identity {
    // The first certificate of the chain is the user's; the user CA signs it directly.
    const leaf = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/.exec(pem)?.[0];
    if (!leaf) throw kubeForbidden("no client certificate: run jsh kube login");
    let id: Identity;
    try {
      id = this.verified.verify(leaf, this.o.userCas(), this.o.clock);
    } catch (e) {
      throw kubeForbidden(`client certificate refused: ${isJumpgateError(e) ? e.message : "invalid certificate"}`);
    }
    if (id.kind === "host") throw kubeForbidden("a host certificate cannot reach Kubernetes clusters");
    return id;
  }

  /** The user's current roles and traits, with no lock in force. */
  private async authorize(identity: Identity): Promise<KubeUser> {
    const user = await this.o.getUser(identity.username);
    if (!user) throw kubeForbidden(`user ${identity.username} does not exist`);
    const lock = await this.o.lockedBy({ user: identity.username, roles: user.roles });
    if (lock) throw kubeForbidden(lock);
    const roles = (await Promise.all(user.roles.map((name) => this.o.getRole(name)))).filter((r): r is Role => r !== undefined);
    return { username: identity.username, roles, traits: user.traits };
  }

  private toKubeError(e: unknown): KubeAccessError {
    if (e instanceof KubeAccessError) return e;
    if (isJumpgateError(e) && e.kind === "access-denied") return kubeForbidden(e.message);
    this.o.log.error({ err: String(e) }, "kube stream decision failed");
    return new KubeAccessError("InternalError", "Jumpgate: internal error");
  }

  private emit(e: KubeAuditEvent): void {
    try {
      this.o.audit({ ...e, server_id: this.o.hostId, server_hostname: this.o.nodeName });
    } catch (err) {
      this.o.log.warn({ err: String(err) }, "cannot queue an audit event");
    }
  }

  /** Log lines about misbehaving peers, at most a burst per minute. */
  private warn(fields: Record<string, unknown>, msg: string): void {
    const now = performance.now();
    if (now - this.warned.at > WARN_WINDOW_MS) this.warned = { at: now, count: 0 };
    if (++this.warned.count <= WARN_BURST) this.o.log.warn(fields, msg);
  }
}

/** `IP:PORT` or `[v6]:PORT` → the IP (X-Forwarded-For carries no port). */
function ipOf(addr: string): string {
  const m = /^\[([^\]]+)\]:\d+$/.exec(addr) ?? /^([^:]+):\d+$/.exec(addr);
  return m?.[1] ?? addr;
}
