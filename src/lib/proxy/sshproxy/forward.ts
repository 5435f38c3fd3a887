/**
 * Terminating a user's SSH connection at the proxy (recording mode `proxy`,
 * and agentless OpenSSH nodes always), as Teleport's forwarding server does:
 * the route's channel carries the user's SSH connection to the node; instead
 * of relaying its bytes, the proxy answers it with a host certificate under
 * the node's names, checks the user's certificate and the login the way the
 * node would (injected: the node's own authorizer), logs in to the node with
 * a short certificate Auth issues for that user and login, and bridges
 * channels (forward-session.ts records and audits the sessions).
 */
import type { KeyObject } from "node:crypto";
import type { Duplex } from "node:stream";
import type { Logger } from "pino";
import ssh2 from "ssh2";
import type { Clock } from "../../../api/clock.ts";
import { isJumpgateError } from "../../../api/errors.ts";
import type { SshCertificate } from "../../crypto/index.ts";
import type { AuditEventInput, RecorderFactory } from "../../events/index.ts";
import {
  CHANNEL_OPTIONS,
  certificateKey,
  HOST_KEY_ALGORITHMS,
  HOST_KEY_VERIFICATION_FAILED,
  type HostCertCheck,
  hostCertificateVerifier,
  patched,
} from "../../ssh/index.ts";
import { relay } from "../relay.ts";
import { acceptSsh, checkCertificateLogin, hostOf, ssh2HostKey } from "../sshconn.ts";
import type { ResolvedNode } from "./dialer.ts";
import { ForwardedSession, type SessionTracking } from "./forward-session.ts";

/** What a forwarded login may do, from the node's own authorizer. */
export interface ForwardPolicy {
  permitPty: boolean;
  permitPortForwarding: boolean;
  /** The user's roles allow recording (`record_session`); the mode decides whether the proxy records. */
  recordSession: boolean;
  /** Close the connection after this long without data either way; 0 = never. */
  clientIdleTimeoutMs: number;
  /** Close the connection at this instant (role option `disconnect_expired_cert`). */
  disconnectAt?: Date;
}

export type ForwardDecision = { allowed: true; policy: ForwardPolicy } | { allowed: false; reason: string };

/** What the proxy does with a route to a node: relay its bytes, or terminate it (and maybe record). */
export interface ForwardPlan {
  terminate: boolean;
  record: boolean;
}

export interface ForwarderOptions {
  /** Whether this route is terminated at the proxy, and its sessions recorded there. */
  plan(node: ResolvedNode): Promise<ForwardPlan>;
  /** The key the proxy presents in the node's place, with a host certificate under the node's names. */
  hostKeyFor(node: ResolvedNode): Promise<{ key: KeyObject; certificate: string }>;
  /** User CA public keys, read on every login. */
  trustedUserCaKeys(): KeyObject[];
  /** Host CA public keys: the node's own SSH server must present a host certificate signed by one. */
  trustedHostCaKeys(): KeyObject[];
  /** The node's access decision for this login (RBAC for the node's labels, locks, session policy). */
  authorizeLogin(req: { user: string; login: string; cert: SshCertificate; remoteAddr: string; node: ResolvedNode }): Promise<ForwardDecision>;
  /** A key and a short certificate, from Auth, to log in to the node as `user` with `login`. */
  userCertFor(req: { user: string; login: string; node: ResolvedNode; notAfter: Date }): Promise<{ key: KeyObject; certificate: string }>;
  recorders?: RecorderFactory;
  /** Session trackers for nodes nobody else tracks (agentless ones). */
  tracking?: SessionTracking;
  audit(e: AuditEventInput): void;
  clock: Clock;
  log: Logger;
  /** From the first byte to a completed login; default 30 s. */
  loginTimeoutMs?: number;
}

/** One authenticated, forwarded connection: who, and what the node end is. */
export interface ForwardedConn {
  user: string;
  login: string;
  node: ResolvedNode;
  policy: ForwardPolicy;
  record: boolean;
  remoteAddr: string;
  upstream: ssh2.Client;
  touch(): void;
  audit(event: string, fields: Record<string, unknown>): void;
}

const MAX_AUTH_ATTEMPTS = 20;

function errMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export class Forwarder {
  constructor(private readonly o: ForwarderOptions) {}

  plan(node: ResolvedNode): Promise<ForwardPlan> {
    return this.o.plan(node);
  }

  /**
   * Serves the user's SSH connection arriving on `channel`, forwarded to the
   * node's SSH server on `upstream` (a raw byte stream the dialer opened).
   * Refusals reach the user as one banner line and the audit log as `auth`.
   */
  async serve(channel: Duplex, upstream: Duplex, node: ResolvedNode, plan: ForwardPlan, remoteAddr: string): Promise<void> {
    let host: { key: KeyObject; certificate: string };
    try {
      host = await this.o.hostKeyFor(node);
    } catch (e) {
      this.o.log.warn({ node: node.name, err: errMessage(e) }, "ssh proxy: no host certificate to forward with");
      channel.destroy();
      upstream.destroy();
      return;
    }
    channel.once("close", () => upstream.destroy());
    acceptSsh(
      channel,
      { hostKey: ssh2HostKey(host.key, host.certificate), ...(this.o.loginTimeoutMs === undefined ? {} : { loginTimeoutMs: this.o.loginTimeoutMs }) },
      (conn) => this.onClient(conn, upstream, node, plan, remoteAddr),
    );
  }

  private emit(e: AuditEventInput): void {
    try {
      this.o.audit(e);
    } catch (err) {
      this.o.log.error({ err: errMessage(err), event: e.event }, "ssh proxy: audit failed");
    }
  }

  private onClient(conn: ssh2.Connection, upstream: Duplex, node: ResolvedNode, plan: ForwardPlan, remoteAddr: string): void {
    const client = patched(conn);
    const where = { server_hostname: node.name, node_id: node.hostId, addr_remote: remoteAddr, proxied: true };
    let attempts = 0;
    let busy = false;
    const banners = new Set<string>();
    let fc: ForwardedConn | undefined;
    const refuse = (ctx: ssh2.AuthContext, user: string, reason: string) => {
      const text = `jumpgate: access denied: ${reason}\n`;
      if (!banners.has(text)) {
        banners.add(text);
        client.authBanner(text);
        this.emit({ event: "auth", success: false, user, login: ctx.username, error: reason, method: "publickey", ...where });
      }
      ctx.reject(["publickey"]);
    };
    conn.on("error", (e: Error) => this.o.log.debug({ err: e.message }, "ssh proxy: forwarded connection error"));
    conn.on("authentication", (ctx) => {
      if (++attempts > MAX_AUTH_ATTEMPTS || busy) {
        ctx.reject([]);
        return void conn.end();
      }
      if (ctx.method !== "publickey") return ctx.reject(["publickey"]);
      const r = checkCertificateLogin(ctx, {
        trustedCaKeys: this.o.trustedUserCaKeys(),
        type: "user",
        principal: ctx.username,
        clock: this.o.clock,
        sourceAddress: hostOf(remoteAddr),
      });
      if (r.kind === "refused") {
        if (!ctx.key.algo.endsWith("-cert-v01@openssh.com")) return ctx.reject(["publickey"]);
        return refuse(ctx, r.keyId ?? "", r.reason);
      }
      busy = true;
      void this.login(ctx, r.cert, r.kind === "query", upstream, node, plan, remoteAddr)
        .then((res) => {
          busy = false;
          if ("refused" in res) return refuse(ctx, r.cert.keyId, res.refused);
          if (res.conn) fc = res.conn;
          ctx.accept();
        })
        .catch((e: unknown) => {
          busy = false;
          this.o.log.error({ err: e instanceof Error ? e.stack : String(e) }, "ssh proxy: forwarded login failed");
          refuse(ctx, r.cert.keyId, "internal error while logging in to the node");
        });
    });
    conn.on("ready", () => {
      const c = fc;
      if (!c) return void conn.end();
      this.bridge(conn, c);
    });
    conn.on("close", () => fc?.upstream.end());
  }

  /** The node's decision, then (for a signed attempt) the login to the node itself. */
  private async login(
    ctx: ssh2.AuthContext,
    cert: SshCertificate,
    query: boolean,
    upstream: Duplex,
    node: ResolvedNode,
    plan: ForwardPlan,
    remoteAddr: string,
  ): Promise<{ refused: string } | { conn?: ForwardedConn }> {
    const user = cert.keyId;
    const login = ctx.username;
    let d: ForwardDecision;
    try {
      d = await this.o.authorizeLogin({ user, login, cert, remoteAddr, node });
    } catch (e) {
      this.o.log.error({ err: errMessage(e) }, "ssh proxy: authorizer failed");
      return { refused: isJumpgateError(e) && e.kind !== "internal" ? e.message : "cannot check access right now" };
    }
    if (!d.allowed) return { refused: d.reason };
    if (query) return {};
    let creds: { key: KeyObject; certificate: string };
    try {
      creds = await this.o.userCertFor({ user, login, node, notAfter: cert.validBefore });
    } catch (e) {
      return { refused: isJumpgateError(e) && e.kind !== "internal" ? e.message : "cannot get a certificate for the node" };
    }
    // The node's SSH server (a Jumpgate node, or the agentless node's sshd) must be the one Auth certified under its names.
    const hostCheck: HostCertCheck = { trustedCaKeys: this.o.trustedHostCaKeys(), principals: [node.name, node.hostId], clock: this.o.clock };
    const r = await connectUpstream(upstream, login, creds, hostCheck);
    if ("refused" in r) return { refused: `${node.name}: ${r.refused}` };
    const audit = (event: string, fields: Record<string, unknown>) =>
      this.emit({ event, user, login, server_hostname: node.name, node_id: node.hostId, addr_remote: remoteAddr, proxied: true, ...fields } as AuditEventInput);
    return { conn: { user, login, node, policy: d.policy, record: plan.record, remoteAddr, upstream: r.client, touch: () => undefined, audit } };
  }

  private bridge(conn: ssh2.Connection, c: ForwardedConn): void {
    const sessions = new Set<ForwardedSession>();
    let closed = false;
    let last = this.o.clock.now().getTime();
    c.touch = () => {
      last = this.o.clock.now().getTime();
    };
    const hangUp = (why: string) => {
      if (closed) return;
      c.audit("client.disconnect", { reason: why });
      for (const s of sessions) s.notice(`jumpgate: ${why}, disconnecting`);
      setTimeout(() => conn.end(), 100).unref();
    };
    const idle = c.policy.clientIdleTimeoutMs;
    const at = c.policy.disconnectAt?.getTime();
    const timer =
      idle > 0 || at !== undefined
        ? setInterval(
            () => {
              const now = this.o.clock.now().getTime();
              if (at !== undefined && now >= at) hangUp(`your certificate expired at ${new Date(at).toISOString()}`);
              else if (idle > 0 && now - last >= idle) hangUp(`client idle for more than ${Math.round(idle / 1000)}s`);
            },
            idle > 0 ? Math.max(50, Math.min(1000, Math.floor(idle / 4))) : 1000,
          )
        : undefined;
    timer?.unref();
    const shutdown = () => {
      if (closed) return;
      closed = true;
      if (timer) clearInterval(timer);
      for (const s of sessions) s.hangUp();
      c.upstream.end();
      conn.end();
    };
    conn.on("close", shutdown);
    c.upstream.on("close", shutdown);
    c.upstream.on("error", (e: Error) => this.o.log.debug({ err: e.message }, "ssh proxy: node connection error"));

    conn.on("session", (accept, reject) => {
      if (closed) return reject();
      const s = new ForwardedSession(c, accept(), {
        ...(this.o.recorders ? { recorders: this.o.recorders } : {}),
        ...(this.o.tracking && c.node.agentless ? { tracking: this.o.tracking } : {}),
        clock: this.o.clock,
        log: this.o.log,
      });
      sessions.add(s);
      s.onDone(() => sessions.delete(s));
    });
    conn.on("tcpip", (accept, reject, info) => {
      const target = `${info.destIP}:${info.destPort}`;
      if (!c.policy.permitPortForwarding) {
        c.audit("port", { success: false, kind: "direct-tcpip", addr: target, error: "port forwarding is not allowed by your roles" });
        return reject();
      }
      c.upstream.forwardOut(info.srcIP, info.srcPort, info.destIP, info.destPort, (err, upstreamCh) => {
        if (err) {
          c.audit("port", { success: false, kind: "direct-tcpip", addr: target, error: err.message });
          return reject();
        }
        const ch = closed ? undefined : accept();
        if (!ch) return void upstreamCh.close();
        c.audit("port", { success: true, kind: "direct-tcpip", addr: target });
        ch.on("data", c.touch);
        relay(ch, upstreamCh);
      });
    });
    // Remote forwarding (-R) and the like are not forwarded by the proxy.
    conn.on("request", (_accept, reject) => reject?.());
  }
}

/** Logs in to the node's SSH server on `sock` with the forwarding certificate. */
function connectUpstream(
  sock: Duplex,
  login: string,
  creds: { key: KeyObject; certificate: string },
  hostCheck: HostCertCheck,
): Promise<{ client: ssh2.Client } | { refused: string }> {
  const auth: ssh2.PublicKeyAuthMethod = { type: "publickey", username: login, key: certificateKey(creds.key, creds.certificate) };
  const verifier = hostCertificateVerifier(hostCheck);
  return new Promise((resolve) => {
    const client = new ssh2.Client();
    let banner = "";
    client.on("banner", (m: string) => {
      banner += m;
    });
    client.once("ready", () => resolve({ client }));
    client.once("error", (e: Error & { level?: string }) => {
      const hostRefusal = verifier.refusal();
      if (hostRefusal) return resolve({ refused: `${HOST_KEY_VERIFICATION_FAILED}: ${hostRefusal.message}` });
      const said = banner
        .trim()
        .split("\n")
        .pop()
        ?.replace(/^jumpgate:\s*(access denied:\s*)?/, "");
      if (e.level === "client-authentication") resolve({ refused: said || `the node refused login ${JSON.stringify(login)}` });
      else resolve({ refused: `cannot log in to the node: ${e.message}` });
    });
    client.connect({
      sock,
      username: login,
      authHandler: [auth],
      hostVerifier: verifier.hostVerifier,
      algorithms: { serverHostKey: [...HOST_KEY_ALGORITHMS] as ssh2.ServerHostKeyAlgorithm[] },
      keepaliveInterval: 15_000,
      readyTimeout: 20_000,
      ...CHANNEL_OPTIONS,
    });
  });
}
