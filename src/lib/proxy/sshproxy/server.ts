import type { KeyObject } from "node:crypto";
import type { Duplex } from "node:stream";
import type { Logger } from "pino";
import type ssh2 from "ssh2";
import type { Clock } from "../../../api/clock.ts";
import { isJumpgateError } from "../../../api/errors.ts";
import { readUserCertExtensions, type SshCertificate } from "../../crypto/index.ts";
import type { AuditEventInput } from "../../events/index.ts";
import { type RateLimitedLogger, rateLimitedLogger } from "../../observability/index.ts";
import { expectedNodePrincipals, type HostCertCheck, patched } from "../../ssh/index.ts";
import { relay } from "../relay.ts";
import { acceptSsh, checkCertificateLogin, hostOf, ssh2HostKey } from "../sshconn.ts";
import type { NodeDialer, ResolvedNode } from "./dialer.ts";
import type { Forwarder, ForwardPlan } from "./forward.ts";
import { hostCandidates, isPlainName, parseProxySubsystem } from "./target.ts";

/** A user logged in to the SSH proxy, from their certificate. */
export interface ProxyUser {
  name: string;
  roles: string[];
  cert: SshCertificate;
}

export type RouteDecision = { allowed: true } | { allowed: false; reason: string };

export interface ProxySshServerOptions {
  hostKey: KeyObject;
  /** The proxy's SSH host certificate line; presented once ssh2 can (see ../sshconn.ts). */
  hostCertificate?: string;
  /** User CA public keys, read on every login. */
  trustedUserCaKeys(): KeyObject[];
  /** Host CA public keys: what nodes' host certificates must be signed by (for the web terminals' hop, see nodeHostCheck). */
  trustedHostCaKeys?(): KeyObject[];
  /** Finds a node by name or host UUID (a trailing `.CLUSTER` is already stripped when it matches `clusterName`). */
  resolveNode(host: string): Promise<ResolvedNode | undefined>;
  /** Whether the user may reach the node at all (the node itself checks the login). */
  authorizeRoute(user: ProxyUser, node: ResolvedNode): Promise<RouteDecision>;
  dialer: NodeDialer;
  audit(e: AuditEventInput): void;
  clock: Clock;
  log: Logger;
  /** This cluster's name: `NAME.CLUSTER` is looked up as `NAME` first, and `@OTHER` clusters are refused. */
  clusterName?: string;
  /** From the first byte to a completed login; default 30 s. */
  loginTimeoutMs?: number;
  /** Terminates (and records) the routes its plan says to; without it every route is relayed. */
  forwarder?: Forwarder;
}

type RouteResult = { ok: true; node: ResolvedNode; upstream: Duplex; plan: ForwardPlan } | { ok: false; message: string; denied: boolean };

const MAX_AUTH_FAILURES = 6;
/** SSH_OPEN_ADMINISTRATIVELY_PROHIBITED, SSH_OPEN_CONNECT_FAILED (RFC 4254 §5.1). */
const OPEN_PROHIBITED = 1;
const OPEN_CONNECT_FAILED = 2;

/**
 * The proxy's SSH front door (DESIGN §5): raw `SSH-2.0-` on the public port and
 * the TLS `jumpgate-ssh` route. Users log in with their user certificate, then
 * open `direct-tcpip` to `HOST:PORT` (`ssh -J`) or a session with the
 * `proxy:HOST:PORT` subsystem (`jsh proxy ssh`); the proxy checks the route and
 * relays raw bytes to the node: the end-to-end SSH session runs inside. When
 * the forwarder's plan says so (recording at the proxy, agentless nodes), the
 * proxy terminates that inner session instead (forward.ts).
 */
export class ProxySshServer {
  private hostKey: ReturnType<typeof ssh2HostKey>;
  private readonly clientLog: RateLimitedLogger;

  constructor(private readonly opts: ProxySshServerOptions) {
    this.hostKey = ssh2HostKey(opts.hostKey, opts.hostCertificate);
    this.clientLog = rateLimitedLogger(opts.log, { clock: opts.clock });
  }

  /** Swaps the presented host key/certificate (after renewal); new connections use it. */
  setHostKey(hostKey: KeyObject, hostCertificate?: string): void {
    this.hostKey = ssh2HostKey(hostKey, hostCertificate);
  }

  /**
   * How a client that entered this front door checks the node it reached by
   * `host` (what `proxy:HOST` named): a host certificate from the cluster's
   * host CA listing that name (web terminals; jsh does the same with its profile).
   */
  nodeHostCheck(host: string): HostCertCheck {
    return {
      trustedCaKeys: this.opts.trustedHostCaKeys?.() ?? [],
      principals: expectedNodePrincipals(host, this.opts.clusterName ?? ""),
      clock: this.opts.clock,
    };
  }

  /** Serves one connection: a raw TCP socket, the TLS socket of `jumpgate-ssh`, or any duplex. */
  handleConnection(stream: Duplex, info: { remoteAddr: string }): void {
    const s = stream as Duplex & { setNoDelay?: (v: boolean) => void };
    s.setNoDelay?.(true);
    acceptSsh(stream, { hostKey: this.hostKey, ...(this.opts.loginTimeoutMs === undefined ? {} : { loginTimeoutMs: this.opts.loginTimeoutMs }) }, (conn) =>
      this.serve(conn, info.remoteAddr),
    );
  }

  private serve(conn: ssh2.Connection, remoteAddr: string): void {
    let user: ProxyUser | undefined;
    let failures = 0;
    let closed = false;
    conn.once("close", () => {
      closed = true;
    });
    conn.on("authentication", (ctx) => {
      if (ctx.method !== "publickey") return ctx.reject(["publickey"]);
      const r = checkCertificateLogin(ctx, {
        trustedCaKeys: this.opts.trustedUserCaKeys(),
        type: "user",
        clock: this.opts.clock,
        sourceAddress: hostOf(remoteAddr),
      });
      let refusal = r.kind === "refused" ? r.reason : undefined;
      if (r.kind === "ok") {
        try {
          user = { name: r.cert.keyId, roles: readUserCertExtensions(r.cert).roles, cert: r.cert };
        } catch (e) {
          refusal = isJumpgateError(e) ? e.message : "malformed certificate";
        }
      }
      if (refusal === undefined) return ctx.accept();
      // Plain keys are what clients try first; only a refused certificate is worth an audit event.
      if (ctx.key.algo.endsWith("-cert-v01@openssh.com")) {
        const name = r.kind === "refused" ? (r.keyId ?? ctx.username) : r.cert.keyId;
        this.clientLog.warn(hostOf(remoteAddr), { user: name, remoteAddr, reason: refusal }, "ssh proxy: login refused");
        this.emitAudit({ event: "auth", success: false, user: name, error: refusal, method: "publickey", login: ctx.username, "addr.remote": remoteAddr });
      }
      if (++failures >= MAX_AUTH_FAILURES) return conn.end();
      // OpenSSH prints banners: the user sees why, in one line, before "Permission denied".
      if (ctx.key.algo.endsWith("-cert-v01@openssh.com")) patched(conn).authBanner(`jumpgate: access denied: ${refusal}\n`);
      ctx.reject(["publickey"]);
    });
    conn.on("request", (_accept, reject) => reject?.());
    conn.on("tcpip", (accept, reject, info) => {
      if (!user) return reject();
      const u = user;
      const target = `${info.destIP}:${info.destPort}`;
      void this.route(u, info.destIP, remoteAddr, "port", { addr: target }).then((r) => {
        if (!r.ok) return rejectWithMessage(conn, reject, r.denied ? OPEN_PROHIBITED : OPEN_CONNECT_FAILED, r.message);
        let channel: ssh2.ServerChannel | undefined;
        try {
          // The user may have gone while the route was worked out.
          channel = closed ? undefined : accept();
        } catch {
          channel = undefined;
        }
        if (!channel) return r.upstream.destroy();
        this.carry(channel, r, remoteAddr);
      });
    });
    conn.on("session", (accept, reject) => {
      if (!user) return reject();
      const u = user;
      const session = accept();
      let used = false;
      session.on("subsystem", (acceptSub, rejectSub, info) => {
        const target = parseProxySubsystem(info.name);
        if (used || !target) return rejectSub?.();
        used = true;
        const other = target.cluster !== undefined && this.opts.clusterName !== undefined && target.cluster !== this.opts.clusterName;
        const routed: Promise<RouteResult> = other
          ? Promise.resolve({ ok: false, denied: true, message: `cluster ${JSON.stringify(target.cluster)} is not reachable through this proxy` })
          : this.route(u, target.host, remoteAddr, "subsystem", { name: info.name });
        void routed.then((r) => {
          let channel: ssh2.ServerChannel | undefined;
          try {
            channel = closed ? undefined : acceptSub?.();
          } catch {
            channel = undefined;
          }
          if (!channel) {
            if (r.ok) r.upstream.destroy();
            return;
          }
          if (r.ok) return this.carry(channel, r, remoteAddr);
          failChannel(channel, r.message);
        });
      });
      // The proxy runs no commands: say how to use it instead.
      const explain = (acceptCmd: (() => ssh2.ServerChannel) | undefined) => {
        if (used) return;
        used = true;
        const channel = acceptCmd?.();
        if (channel) failChannel(channel, "this is a Jumpgate proxy: use `ssh -J USER@PROXY USER@NODE` or the proxy:NODE:PORT subsystem");
      };
      session.on("shell", (acceptShell) => explain(acceptShell));
      session.on("exec", (acceptExec) => explain(acceptExec));
      session.on("pty", (_a, rejectPty) => rejectPty?.());
      session.on("env", (_a, rejectEnv) => rejectEnv?.());
    });
  }

  /** Relays the route's bytes, or hands it to the forwarder to terminate. */
  private carry(channel: Duplex, r: Extract<RouteResult, { ok: true }>, remoteAddr: string): void {
    const f = this.opts.forwarder;
    if (f && r.plan.terminate) void f.serve(channel, r.upstream, r.node, r.plan, remoteAddr);
    else relay(channel, r.upstream);
  }

  /** Resolves, authorizes and dials a route; audits the outcome. */
  private async route(user: ProxyUser, host: string, remoteAddr: string, event: "port" | "subsystem", fields: Record<string, string>): Promise<RouteResult> {
    const base = { event, user: user.name, "addr.remote": remoteAddr, ...fields };
    const refuse = (message: string, denied: boolean, extra: Record<string, string> = {}): RouteResult => {
      this.emitAudit({ ...base, ...extra, success: false, error: message });
      return { ok: false, message, denied };
    };
    try {
      if (!isPlainName(host)) return refuse("invalid node name", true);
      let node: ResolvedNode | undefined;
      for (const candidate of hostCandidates(host, this.opts.clusterName)) {
        node = await this.opts.resolveNode(candidate);
        if (node) break;
      }
      if (!node) return refuse(`node ${JSON.stringify(host)} not found`, false);
      const where = { server_id: node.hostId, server_hostname: node.name };
      const decision = await this.opts.authorizeRoute(user, node);
      if (!decision.allowed) return refuse(`access to node ${JSON.stringify(node.name)} denied: ${decision.reason}`, true, where);
      let plan: ForwardPlan = { terminate: false, record: false };
      if (this.opts.forwarder) {
        try {
          plan = await this.opts.forwarder.plan(node);
        } catch (e) {
          this.opts.log.warn({ node: node.name, err: e instanceof Error ? e.message : String(e) }, "ssh proxy: cannot read the recording mode");
          return refuse("cannot read the cluster's session recording mode; try again", false, where);
        }
      }
      let upstream: Duplex;
      try {
        upstream = await this.opts.dialer.dial(node, remoteAddr);
      } catch (e) {
        const why = isJumpgateError(e) && e.kind !== "internal" ? e.message : "connection failed";
        this.opts.log.warn({ node: node.name, hostId: node.hostId, err: e instanceof Error ? e.message : String(e) }, "ssh proxy: cannot reach node");
        return refuse(`cannot reach node ${JSON.stringify(node.name)}: ${why}`, false, where);
      }
      this.emitAudit({ ...base, ...where, success: true });
      return { ok: true, node, upstream, plan };
    } catch (e) {
      this.opts.log.error({ err: e instanceof Error ? (e.stack ?? e.message) : String(e), host }, "ssh proxy: routing failed");
      return refuse("internal error while routing the connection", false);
    }
  }

  private emitAudit(e: AuditEventInput): void {
    try {
      this.opts.audit(e);
    } catch (err) {
      this.opts.log.error({ err: err instanceof Error ? err.message : String(err), event: e.event }, "ssh proxy: audit failed");
    }
  }
}

/** Writes `ERROR: message` to the channel's stderr and ends it with exit status 1. */
function failChannel(channel: ssh2.ServerChannel, message: string): void {
  channel.stderr.write(`ERROR: ${message}\r\n`);
  channel.exit(1);
  channel.end();
}

interface ChannelOpenFailer {
  channelOpenFail(remote: number, reason: number, description?: string): void;
}

/**
 * ssh2's `reject()` sends an empty description, so users would see only
 * "open failed". While it runs, this swaps in the reason and our message.
 * Pinned by the refusal tests; falls back to a plain reject if ssh2 changes.
 */
function rejectWithMessage(conn: ssh2.Connection, reject: () => void, reason: number, message: string): void {
  const proto = (conn as unknown as { _protocol?: Partial<ChannelOpenFailer> })._protocol;
  const original = proto?.channelOpenFail;
  if (!proto || typeof original !== "function") {
    reject();
    return;
  }
  const hadOwn = Object.hasOwn(proto, "channelOpenFail");
  proto.channelOpenFail = (remote: number) => original.call(proto, remote, reason, message);
  try {
    reject();
  } finally {
    if (hadOwn) proto.channelOpenFail = original;
    else delete proto.channelOpenFail;
  }
}
