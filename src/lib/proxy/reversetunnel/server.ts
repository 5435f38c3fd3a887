import type { KeyObject } from "node:crypto";
import type { Duplex } from "node:stream";
import type { Logger } from "pino";
import type ssh2 from "ssh2";
import type { Clock } from "../../../api/clock.ts";
import { connectionProblem, isJumpgateError } from "../../../api/errors.ts";
import { DIAL_BIND_ADDR, DIAL_BIND_PORT, encodeDialRequest } from "../../../api/reversetunnel.ts";
import { readHostCertExtensions, type SshCertificate } from "../../crypto/index.ts";
import { type RateLimitedLogger, rateLimitedLogger } from "../../observability/index.ts";
import { acceptSsh, checkCertificateLogin, hostOf, ssh2HostKey } from "../sshconn.ts";

/** An agent with a live reverse tunnel. */
export interface AgentInfo {
  hostId: string;
  remoteAddr: string;
  connectedAt: Date;
  /** From the host certificate: the agent's system role and cluster. */
  role: string;
  clusterName: string;
  certificate: SshCertificate;
}

/** An agent the proxy turned away, for the audit log. */
export interface AgentRefusal {
  remoteAddr: string;
  /** The host id the agent claimed (its SSH username). */
  hostId: string;
  reason: string;
  time: Date;
}

export interface TunnelServerOptions {
  hostKey: KeyObject;
  /** The proxy's SSH host certificate line; presented once ssh2 can (see sshconn.ts). */
  hostCertificate?: string;
  /** Host CA public keys, read on every login (several during a rotation). */
  trustedHostCaKeys(): KeyObject[];
  clock: Clock;
  log: Logger;
  onAgentConnected?(agent: AgentInfo): void;
  onAgentDisconnected?(agent: AgentInfo): void;
  onAgentRefused?(refusal: AgentRefusal): void;
  loginTimeoutMs?: number;
  /** Keepalives to agents; a dead one is dropped after about interval × (countMax + 1). Default 10 s × 3. */
  keepaliveIntervalMs?: number;
  keepaliveCountMax?: number;
  /** How long `dial` waits for the agent to accept the channel; default 10 s. */
  dialTimeoutMs?: number;
}

interface Live {
  info: AgentInfo;
  conn: ssh2.Connection;
}

/**
 * The proxy side of reverse tunnels (DESIGN §5): agents log in over SSH with
 * their host certificate on the `jumpgate-reversetunnel` route; `dial` opens a
 * channel to one of them (wire contract in api/reversetunnel.ts).
 */
export class TunnelServer {
  private readonly live = new Map<string, Live>();
  private readonly conns = new Set<ssh2.Connection>();
  private readonly refusedLog: RateLimitedLogger;
  private hostKey: ReturnType<typeof ssh2HostKey>;

  constructor(private readonly opts: TunnelServerOptions) {
    this.hostKey = ssh2HostKey(opts.hostKey, opts.hostCertificate);
    this.refusedLog = rateLimitedLogger(opts.log, { clock: opts.clock });
  }

  /** Swaps the presented host key/certificate (after renewal); new connections use it. */
  setHostKey(hostKey: KeyObject, hostCertificate?: string): void {
    this.hostKey = ssh2HostKey(hostKey, hostCertificate);
  }

  /** Serves one agent connection: the TLS socket of the `jumpgate-reversetunnel` route. */
  handle(socket: Duplex, info?: { remoteAddr: string }): void {
    const remoteAddr = info?.remoteAddr ?? remoteAddrOf(socket);
    acceptSsh(
      socket,
      {
        hostKey: this.hostKey,
        ...(this.opts.loginTimeoutMs === undefined ? {} : { loginTimeoutMs: this.opts.loginTimeoutMs }),
        keepaliveIntervalMs: this.opts.keepaliveIntervalMs ?? 10_000,
        keepaliveCountMax: this.opts.keepaliveCountMax ?? 3,
      },
      (conn) => this.serve(conn, remoteAddr),
    );
  }

  /** Host ids with a live tunnel. */
  connectedAgents(): string[] {
    return [...this.live.keys()].sort();
  }

  agent(hostId: string): AgentInfo | undefined {
    return this.live.get(hostId)?.info;
  }

  /** Opens a connection to `hostId` through its tunnel. Fails with `connection-problem`. */
  dial(hostId: string, info: { clientAddr: string; target?: string }): Promise<Duplex> {
    const agent = this.live.get(hostId);
    if (!agent) {
      return Promise.reject(connectionProblem(`node ${hostId} is not connected to this proxy (no reverse tunnel)`));
    }
    const request = encodeDialRequest({ clientAddr: info.clientAddr, ...(info.target === undefined ? {} : { target: info.target }) });
    return new Promise<Duplex>((resolve, reject) => {
      let done = false;
      const timer = setTimeout(() => {
        done = true;
        reject(connectionProblem(`node ${hostId} did not answer through its reverse tunnel`));
      }, this.opts.dialTimeoutMs ?? 10_000);
      const callback = (err: Error | undefined, channel: ssh2.ServerChannel) => {
        if (done) {
          channel?.destroy();
          return;
        }
        done = true;
        clearTimeout(timer);
        if (err) return reject(connectionProblem(`node ${hostId} refused the connection through its reverse tunnel`, err));
        channel.on("error", () => channel.destroy());
        resolve(channel);
      };
      try {
        agent.conn.forwardOut(DIAL_BIND_ADDR, DIAL_BIND_PORT, request, 0, callback);
      } catch (e) {
        done = true;
        clearTimeout(timer);
        reject(connectionProblem(`the reverse tunnel to node ${hostId} is closing`, e));
      }
    });
  }

  /** Drops every agent connection. */
  close(): void {
    for (const c of this.conns) c.end();
    this.conns.clear();
  }

  private serve(conn: ssh2.Connection, remoteAddr: string): void {
    this.conns.add(conn);
    let authed: SshCertificate | undefined;
    let registered: Live | undefined;
    let refusals = 0;
    conn.on("authentication", (ctx) => {
      const refuse = (reason: string) => {
        this.refused({ remoteAddr, hostId: ctx.username, reason, time: this.opts.clock.now() });
        if (++refusals >= 6) {
          conn.end();
          return;
        }
        ctx.reject(["publickey"]);
      };
      if (ctx.method !== "publickey") return ctx.reject(["publickey"]);
      const r = checkCertificateLogin(ctx, {
        trustedCaKeys: this.opts.trustedHostCaKeys(),
        type: "host",
        principal: ctx.username,
        clock: this.opts.clock,
        sourceAddress: hostOf(remoteAddr),
      });
      if (r.kind === "refused") return refuse(r.reason);
      if (r.cert.keyId !== ctx.username) return refuse(`host certificate is for ${JSON.stringify(r.cert.keyId)}, not ${JSON.stringify(ctx.username)}`);
      if (r.kind === "ok") authed = r.cert;
      ctx.accept();
    });
    conn.on("request", (accept, reject, name, info) => {
      const forward = name === "tcpip-forward" && "bindAddr" in info ? info : undefined;
      if (!authed || !forward || forward.bindAddr !== DIAL_BIND_ADDR || forward.bindPort !== DIAL_BIND_PORT) {
        reject?.();
        return;
      }
      if (!registered) registered = this.register(conn, authed, remoteAddr);
      accept?.();
    });
    // Agents only take channels; they never open one.
    conn.on("session", (_accept, reject) => reject());
    conn.on("tcpip", (_accept, reject) => reject());
    conn.once("close", () => {
      this.conns.delete(conn);
      if (!registered) return;
      const { hostId } = registered.info;
      if (this.live.get(hostId) !== registered) return;
      this.live.delete(hostId);
      this.opts.log.info({ hostId, remoteAddr }, "reverse tunnel: agent disconnected");
      this.opts.onAgentDisconnected?.(registered.info);
    });
  }

  private register(conn: ssh2.Connection, cert: SshCertificate, remoteAddr: string): Live {
    let role = "";
    let clusterName = "";
    try {
      const ext = readHostCertExtensions(cert);
      role = ext.role;
      clusterName = ext.clusterName;
    } catch (e) {
      if (!isJumpgateError(e)) throw e;
    }
    const info: AgentInfo = { hostId: cert.keyId, remoteAddr, connectedAt: this.opts.clock.now(), role, clusterName, certificate: cert };
    const live: Live = { info, conn };
    const previous = this.live.get(info.hostId);
    this.live.set(info.hostId, live);
    if (previous) {
      this.opts.log.info({ hostId: info.hostId, remoteAddr, previous: previous.info.remoteAddr }, "reverse tunnel: agent reconnected; dropping its old tunnel");
      previous.conn.end();
    } else {
      this.opts.log.info({ hostId: info.hostId, remoteAddr, role }, "reverse tunnel: agent connected");
    }
    this.opts.onAgentConnected?.(info);
    return live;
  }

  private refused(r: AgentRefusal): void {
    this.refusedLog.warn(hostOf(r.remoteAddr), { hostId: r.hostId, remoteAddr: r.remoteAddr, reason: r.reason }, "reverse tunnel: agent refused");
    try {
      this.opts.onAgentRefused?.(r);
    } catch (e) {
      this.opts.log.error({ err: e instanceof Error ? e.message : String(e) }, "reverse tunnel: refusal callback failed");
    }
  }
}

function remoteAddrOf(s: Duplex): string {
  const sock = s as Duplex & { remoteAddress?: string; remotePort?: number };
  return `${sock.remoteAddress ?? "?"}:${sock.remotePort ?? 0}`;
}
