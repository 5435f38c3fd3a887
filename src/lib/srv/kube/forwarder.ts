/**
 * The Kubernetes Service's request path for one cluster: each request of an
 * authenticated user is parsed (request.ts), decided (access.ts), forwarded
 * to the API server with the service's own credentials and the user's
 * impersonation headers (upstream.ts over httpfwd), and audited as
 * `kube.request`. `exec`/`attach` upgrades are sessions: `session.start` and
 * `session.end`, and over WebSocket a recording of what the container
 * printed, in the SSH sessions' format (`jsh play SID`).
 *
 * Who the user is — a verified certificate, his current roles and traits,
 * locks — is settled by the caller, which hands a `KubeUser` in.
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { Duplex } from "node:stream";
import type { Logger } from "pino";
import type { Clock } from "../../../api/clock.ts";
import type { RecorderFactory, SessionRecorder } from "../../events/index.ts";
import { type DialFn, type ForwardOutcome, HeaderList } from "../../httpfwd/index.ts";
import type { AccessChecker, Labels } from "../../rbac/index.ts";
import { applyImpersonation, authorizeKubeRequest, type KubeGrant, type KubeUser } from "./access.ts";
import { KubeAccessError, kubeStatus, sendKubeStatus, writeKubeStatus } from "./errors.ts";
import type { KubeClusterConfig } from "./kubeconfig.ts";
import { type KubeRequestInfo, parseKubeRequestUrl } from "./request.ts";
import { ExecTap, type ExecTarget, execTarget, type UpgradeAnswer } from "./session.ts";
import { KubeUpstream } from "./upstream.ts";

export type KubeAuditEvent = Record<string, unknown> & { event: string };

export interface KubeForwarderOptions {
  /** The cluster (one kubeconfig context): API server, CA, the service's credentials. */
  cluster: KubeClusterConfig;
  /** The cluster's labels now (static plus dynamic results), for kubernetes_labels. */
  labels(): Labels;
  /** This service's host id and name (audit `server_id`, recordings). */
  hostId: string;
  nodeName: string;
  /** Queues an audit event; must not throw (errors are logged and dropped). */
  audit(e: KubeAuditEvent): void;
  /** Records exec/attach sessions; absent: sessions are audited, not recorded. */
  recorders?: RecorderFactory;
  clock: Clock;
  log?: Logger;
  /** Tests: how to reach the API server (default TCP). */
  dial?: DialFn;
  connectTimeoutMs?: number;
  headersTimeoutMs?: number;
}

/** Who makes a request and from where. */
export interface KubeRequestContext {
  user: KubeUser;
  /** A checker for `user`, when the caller keeps one (built from `user` otherwise). */
  checker?: AccessChecker;
  /** The client's address for the audit log and X-Forwarded-For; default the socket's. */
  clientAddr?: string;
}

/** A Duplex in front of the client's socket that shows both directions to the tap and changes nothing. */
class TapSocket extends Duplex {
  constructor(
    private readonly inner: Duplex,
    private readonly tap: ExecTap,
  ) {
    super({ allowHalfOpen: false });
    inner.on("data", (d: Buffer) => {
      tap.fromClient(d);
      if (!this.push(d)) inner.pause();
    });
    inner.once("end", () => this.push(null));
    inner.once("error", (e) => this.destroy(e));
    inner.once("close", () => this.destroy());
  }

  override _read(): void {
    this.inner.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.tap.fromServer(chunk);
    // The tap may have found the stream unreadable and closed the connection.
    if (this.destroyed) cb();
    else this.inner.write(chunk, cb);
  }

  override _final(cb: (e?: Error | null) => void): void {
    this.inner.end();
    cb();
  }

  override _destroy(err: Error | null, cb: (e?: Error | null) => void): void {
    this.inner.destroy();
    cb(err);
  }

  setNoDelay(v: boolean): this {
    (this.inner as { setNoDelay?: (v: boolean) => void }).setNoDelay?.(v);
    return this;
  }
}

export class KubeForwarder {
  readonly upstream: KubeUpstream;

  constructor(private readonly o: KubeForwarderOptions) {
    this.upstream = new KubeUpstream(o.cluster, {
      ...(o.dial ? { dial: o.dial } : {}),
      ...(o.connectTimeoutMs !== undefined ? { connectTimeoutMs: o.connectTimeoutMs } : {}),
      ...(o.headersTimeoutMs !== undefined ? { headersTimeoutMs: o.headersTimeoutMs } : {}),
    });
  }

  get clusterName(): string {
    return this.o.cluster.name;
  }

  /** One request (not an upgrade). Never rejects: refusals and upstream failures are answered to the client. */
  async handleRequest(req: IncomingMessage, res: ServerResponse, ctx: KubeRequestContext): Promise<void> {
    const d = this.decide(req, ctx);
    if ("refused" in d) {
      sendKubeStatus(res, d.refused.status);
      return;
    }
    const token = this.token(d);
    if (token === false) {
      sendKubeStatus(res, kubeStatus("ServiceUnavailable", `Jumpgate: the Kubernetes Service cannot read its token for cluster "${this.clusterName}"`));
      return;
    }
    const outcome = await this.upstream.forwarder.forward(req, res, this.forwardOptions(req, ctx, d.grant, token, false));
    this.requestEvent(d, outcome);
  }

  /** An upgrade request (exec, attach, port-forward; WebSocket or SPDY). */
  async handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, ctx: KubeRequestContext): Promise<void> {
    socket.on("error", () => socket.destroy());
    const d = this.decide(req, ctx);
    if ("refused" in d) {
      writeKubeStatus(socket, d.refused.status);
      return;
    }
    const token = this.token(d);
    if (token === false) {
      writeKubeStatus(socket, kubeStatus("ServiceUnavailable", `Jumpgate: the Kubernetes Service cannot read its token for cluster "${this.clusterName}"`));
      return;
    }
    const target = execTarget(d.info, d.query);
    if (target === undefined) {
      const outcome = await this.upstream.forwarder.upgrade(req, socket, head, this.forwardOptions(req, ctx, d.grant, token, false));
      this.requestEvent(d, outcome);
      return;
    }
    const session = new ExecSession(this.o, d, target);
    const tap = new ExecTap({
      answered: (a) => session.started(a, tap),
      broken: (e) => {
        this.o.log?.warn({ sid: session.sid, err: e.message }, "cannot read the exec session's output; closing it");
        tapped.destroy();
      },
    });
    const tapped = new TapSocket(socket, tap);
    const outcome = await this.upstream.forwarder.upgrade(req, tapped, head, this.forwardOptions(req, ctx, d.grant, token, true));
    this.requestEvent(d, outcome);
    await session.ended(tap);
  }

  close(): void {
    this.upstream.close();
  }

  /** Parses and decides; a refusal is audited here. */
  private decide(req: IncomingMessage, ctx: KubeRequestContext): Decided | { refused: KubeAccessError } {
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const query = new URLSearchParams(q < 0 ? "" : url.slice(q + 1));
    const clientAddr = clientAddrOf(req, ctx);
    const base = { user: ctx.user.username, clientAddr, path: (q < 0 ? url : url.slice(0, q)).slice(0, 2048) };
    let info: KubeRequestInfo | undefined;
    try {
      info = parseKubeRequestUrl(req.method ?? "GET", url);
      const grant = authorizeKubeRequest({
        user: ctx.user,
        cluster: { name: this.clusterName, labels: this.o.labels() },
        request: info,
        headers: HeaderList.fromRaw(req.rawHeaders),
        ...(ctx.checker ? { checker: ctx.checker } : {}),
      });
      return { ...base, info, query, grant };
    } catch (e) {
      const err = e instanceof KubeAccessError ? e : new KubeAccessError("InternalError", "Jumpgate: internal error");
      if (!(e instanceof KubeAccessError)) this.o.log?.error({ err: String(e) }, "kube request decision failed");
      this.emit({
        event: "kube.request",
        ...requestFields(base, info),
        kubernetes_cluster: this.clusterName,
        response_code: err.status.code,
        success: false,
        error: err.message,
      });
      return { refused: err };
    }
  }

  /** The bearer token to send (undefined with a client certificate); false when it cannot be read. */
  private token(d: Decided): string | undefined | false {
    const t = this.upstream.bearerToken();
    if (t === undefined && this.o.cluster.credentials.kind !== "client-cert") {
      this.emit({
        event: "kube.request",
        ...requestFields(d, d.info),
        ...grantFields(d.grant),
        kubernetes_cluster: this.clusterName,
        response_code: 503,
        success: false,
        error: "token unreadable",
      });
      return false;
    }
    return t;
  }

  private forwardOptions(req: IncomingMessage, ctx: KubeRequestContext, grant: KubeGrant, token: string | undefined, recorded: boolean) {
    const clientAddr = clientAddrOf(req, ctx);
    return {
      ...(clientAddr !== "" ? { clientAddr } : {}),
      proto: "https" as const,
      requestHeaders: (h: HeaderList) => {
        applyImpersonation(h, grant, token);
        // A recorded session's frames must be readable: no compression extension.
        if (recorded) h.delete("sec-websocket-extensions");
      },
    };
  }

  private requestEvent(d: Decided, outcome: ForwardOutcome): void {
    this.emit({
      event: "kube.request",
      ...requestFields(d, d.info),
      ...grantFields(d.grant),
      kubernetes_cluster: this.clusterName,
      response_code: outcome.status,
      success: outcome.status < 400,
      ...(outcome.error ? { error: outcome.error.message } : {}),
    });
  }

  private emit(e: KubeAuditEvent): void {
    emitSafely(this.o, e);
  }
}

interface Decided {
  user: string;
  clientAddr: string;
  path: string;
  info: KubeRequestInfo;
  query: URLSearchParams;
  grant: KubeGrant;
}

function clientAddrOf(req: IncomingMessage, ctx: KubeRequestContext): string {
  const a = ctx.clientAddr ?? req.socket?.remoteAddress ?? "";
  return a.startsWith("::ffff:") ? a.slice(7) : a;
}

function requestFields(base: { user: string; clientAddr: string; path: string }, info: KubeRequestInfo | undefined): Record<string, unknown> {
  return {
    user: base.user,
    addr_remote: base.clientAddr,
    request_path: base.path,
    ...(info
      ? {
          verb: info.verb,
          ...(info.isResource
            ? {
                resource: info.resource,
                ...(info.subresource ? { subresource: info.subresource } : {}),
                api_group: info.apiGroup,
                api_version: info.apiVersion,
                namespace: info.namespace,
                name: info.name,
              }
            : {}),
        }
      : {}),
  };
}

function grantFields(g: KubeGrant): Record<string, unknown> {
  return { kubernetes_users: g.kubeUsers, kubernetes_groups: g.kubeGroups, kubernetes_user: g.user, impersonated_groups: g.groups };
}

function emitSafely(o: KubeForwarderOptions, e: KubeAuditEvent): void {
  try {
    o.audit({ ...e, server_id: o.hostId, server_hostname: o.nodeName });
  } catch (err) {
    o.log?.warn({ err: String(err) }, "cannot queue an audit event");
  }
}

/** The audit events and recording of one exec/attach. */
class ExecSession {
  readonly sid = randomUUID();
  private start: Date | undefined;
  private recorder: SessionRecorder | undefined;
  private protocol = "";

  constructor(
    private readonly o: KubeForwarderOptions,
    private readonly d: Decided,
    private readonly target: ExecTarget,
  ) {}

  private fields(): Record<string, unknown> {
    const t = this.target;
    return {
      sid: this.sid,
      user: this.d.user,
      addr_remote: this.d.clientAddr,
      proto: "kube",
      kubernetes_cluster: this.o.cluster.name,
      kubernetes_pod_namespace: t.namespace,
      kubernetes_pod_name: t.pod,
      kubernetes_container_name: t.container,
      kubernetes_user: this.d.grant.user,
      kubernetes_users: this.d.grant.kubeUsers,
      kubernetes_groups: this.d.grant.kubeGroups,
      session_type: t.kind,
      interactive: t.tty,
      ...(t.kind === "exec" ? { command: t.command.join(" ") } : {}),
    };
  }

  /** The API server answered the upgrade: a 101 begins the session. */
  started(a: UpgradeAnswer, tap: ExecTap): void {
    if (a.status !== 101) return;
    this.start = this.o.clock.now();
    this.protocol = a.upgrade.toLowerCase() === "websocket" ? a.subprotocol : a.upgrade;
    emitSafely(this.o, { event: "session.start", ...this.fields(), protocol: this.protocol });
    // Only the WebSocket channel protocols can be read; SPDY sessions are audited without a recording.
    if (this.o.recorders && /channel\.k8s\.io$/i.test(a.subprotocol) && a.upgrade.toLowerCase() === "websocket") {
      try {
        this.recorder = this.o.recorders({
          sessionId: this.sid,
          user: this.d.user,
          login: this.d.grant.user,
          hostId: this.o.hostId,
          nodeName: `${this.o.cluster.name}/${this.target.namespace}/${this.target.pod}`,
          cols: 80,
          rows: 24,
          start: this.start,
          remoteAddr: this.d.clientAddr,
        });
        tap.record(this.recorder);
      } catch (e) {
        this.o.log?.error({ sid: this.sid, err: e instanceof Error ? e.message : String(e) }, "cannot start the session recording");
      }
    }
  }

  async ended(tap: ExecTap): Promise<void> {
    if (this.start === undefined) return;
    let recordingId: string | undefined;
    if (this.recorder) {
      await this.recorder.close().then(
        () => {
          recordingId = this.sid;
        },
        (e: unknown) => this.o.log?.error({ sid: this.sid, err: e instanceof Error ? e.message : String(e) }, "session recording failed"),
      );
    }
    emitSafely(this.o, {
      event: "session.end",
      ...this.fields(),
      protocol: this.protocol,
      participants: [this.d.user],
      session_start: this.start.toISOString(),
      session_stop: this.o.clock.now().toISOString(),
      ...(recordingId ? { recording_id: recordingId } : {}),
      ...(tap.exitCode !== undefined ? { exit_code: tap.exitCode } : {}),
      ...(tap.failure ? { error: tap.failure } : {}),
    });
  }
}
