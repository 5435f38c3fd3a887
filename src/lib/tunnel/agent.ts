import type { KeyObject } from "node:crypto";
import { EventEmitter } from "node:events";
import net from "node:net";
import type { Duplex } from "node:stream";
import tls from "node:tls";
import type { Logger } from "pino";
import ssh2 from "ssh2";
import type { Clock } from "../../api/clock.ts";
import { ALPN } from "../../api/constants.ts";
import { badParameter, connectionProblem } from "../../api/errors.ts";
import { DIAL_BIND_ADDR, DIAL_BIND_PORT, decodeDialRequest } from "../../api/reversetunnel.ts";
import { CHANNEL_OPTIONS, certificateKey } from "../ssh/index.ts";
import { Backoff, type BackoffOptions } from "./backoff.ts";

/** What the proxy says about a connection it hands to the agent. */
export interface DialInfo {
  /** What the user asked for (e.g. `web-1:22`), or "" when the proxy did not say. */
  target: string;
  /** The user's address as the proxy saw it. */
  clientAddr: string;
}

export interface ReverseTunnelAgentOptions {
  /** The proxy's public `host:port`. */
  proxyAddr: string;
  /** `cas`: PEM certificates to trust instead of the system roots; `insecure`: do not verify the proxy's certificate. */
  tls: { insecure: boolean; cas?: string[]; serverName?: string };
  hostId: string;
  hostKey: KeyObject;
  /** The SSH host certificate line (`ssh-ed25519-cert-v01@openssh.com AAAA…`) for `hostKey`. */
  hostCertificate: string;
  /** Receives each user connection the proxy routes to this agent. Own the stream: end or destroy it. */
  onDial(stream: Duplex, info: DialInfo): void;
  clock: Clock;
  log: Logger;
  backoff?: BackoffOptions;
  /** Keepalive period; with `keepaliveCountMax` it bounds how long a dead proxy goes unnoticed (default 5 s × 2 → ~15 s). */
  keepaliveIntervalMs?: number;
  keepaliveCountMax?: number;
  /** Deadline for TLS, the SSH handshake, login and registration together; default 15 s. */
  connectTimeoutMs?: number;
}

export interface ReverseTunnelAgentEvents {
  connected: [];
  disconnected: [reason: string];
}

/**
 * The agent side of a reverse tunnel (DESIGN §5): dials the proxy with TLS
 * (ALPN `jumpgate-reversetunnel`), logs in over SSH as `hostId` with the host
 * certificate, registers the dial forwarding (see api/reversetunnel.ts) and
 * hands every dial channel to `onDial`. Reconnects with jittered backoff until
 * `close()`.
 */
export class ReverseTunnelAgent extends EventEmitter<ReverseTunnelAgentEvents> {
  private readonly host: string;
  private readonly port: number;
  private identity: { hostKey: KeyObject; hostCertificate: string };
  private closed = false;
  private isConnected = false;
  private current: { client: ssh2.Client; socket: tls.TLSSocket } | undefined;
  private sleeper: { timer: NodeJS.Timeout; wake: () => void } | undefined;
  private loop: Promise<void> | undefined;

  constructor(private readonly opts: ReverseTunnelAgentOptions) {
    super();
    const addr = parseHostPort(opts.proxyAddr);
    this.host = addr.host;
    this.port = addr.port;
    this.identity = checkedIdentity({ hostKey: opts.hostKey, hostCertificate: opts.hostCertificate });
  }

  /** True while the tunnel is logged in and the proxy accepted the dial forwarding. */
  get connected(): boolean {
    return this.isConnected;
  }

  /** Starts the connect loop (idempotent). */
  start(): this {
    if (!this.loop && !this.closed) this.loop = this.run();
    return this;
  }

  /** Swaps the credentials (after host certificate renewal); used from the next connection on. */
  setIdentity(identity: { hostKey: KeyObject; hostCertificate: string }): void {
    this.identity = checkedIdentity(identity);
  }

  /** Stops reconnecting and drops the tunnel; resolves once the loop has ended. */
  async close(): Promise<void> {
    this.closed = true;
    this.sleeper?.wake();
    this.dropCurrent();
    await this.loop;
  }

  private async run(): Promise<void> {
    const backoff = new Backoff(this.opts.backoff);
    while (!this.closed) {
      let upForMs = 0;
      try {
        upForMs = await this.connectOnce();
      } catch (e) {
        if (!this.closed) this.opts.log.warn({ proxy: this.opts.proxyAddr, err: errorText(e) }, "reverse tunnel: cannot connect to the proxy");
      }
      if (this.closed) break;
      const delay = backoff.next(upForMs);
      this.opts.log.debug({ proxy: this.opts.proxyAddr, delayMs: delay, attempt: backoff.attempts }, "reverse tunnel: reconnecting");
      await this.sleep(delay);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.sleeper = undefined;
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.sleeper = { timer, wake };
    });
  }

  /** One connection, from dial to close. Resolves with how long it was registered (0 if it never was). */
  private connectOnce(): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      const { hostKey, hostCertificate } = this.identity;
      const auth: ssh2.PublicKeyAuthMethod = { type: "publickey", username: this.opts.hostId, key: certificateKey(hostKey, hostCertificate) };
      const socket = tls.connect({
        host: this.host,
        port: this.port,
        ALPNProtocols: [ALPN.reverseTunnel],
        rejectUnauthorized: !this.opts.tls.insecure,
        ...(this.opts.tls.cas === undefined ? {} : { ca: this.opts.tls.cas }),
        ...serverNameOption(this.opts.tls.serverName ?? this.host),
      });
      socket.setNoDelay(true);
      const client = new ssh2.Client();
      this.current = { client, socket };
      let registeredAt: number | undefined;
      let failure: unknown;
      let settled = false;
      const deadline = setTimeout(() => {
        failure ??= connectionProblem("timed out connecting to the proxy");
        teardown();
      }, this.opts.connectTimeoutMs ?? 15_000);
      const teardown = () => {
        client.end();
        socket.destroy();
      };
      const finish = () => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        if (this.current?.client === client) this.current = undefined;
        if (registeredAt === undefined) return reject(failure ?? connectionProblem("the proxy closed the connection"));
        this.isConnected = false;
        const reason = failure === undefined ? "connection closed" : errorText(failure);
        this.opts.log.info({ proxy: this.opts.proxyAddr, reason }, "reverse tunnel: disconnected");
        this.emit("disconnected", reason);
        resolve(Math.max(0, this.opts.clock.now().getTime() - registeredAt));
      };

      socket.on("error", (e) => {
        failure ??= e;
        teardown();
      });
      socket.once("close", finish);
      socket.once("secureConnect", () => {
        if (socket.alpnProtocol !== ALPN.reverseTunnel) {
          failure = connectionProblem(`the proxy at ${this.opts.proxyAddr} does not accept reverse tunnels`);
          return teardown();
        }
        client.connect({
          sock: socket,
          username: this.opts.hostId,
          authHandler: [auth],
          // The proxy is authenticated by its TLS certificate (ALPN route), so its SSH host key needs no second check.
          hostVerifier: () => true,
          keepaliveInterval: this.opts.keepaliveIntervalMs ?? 5000,
          keepaliveCountMax: this.opts.keepaliveCountMax ?? 2,
          readyTimeout: this.opts.connectTimeoutMs ?? 15_000,
          // Each channel carries a user's SSH connection: room for its packets (see CHANNEL_OPTIONS).
          ...CHANNEL_OPTIONS,
        });
      });
      client.on("error", (e) => {
        failure ??= e;
        teardown();
      });
      client.on("close", () => socket.destroy());
      client.on("ready", () => {
        client.forwardIn(DIAL_BIND_ADDR, DIAL_BIND_PORT, (err) => {
          if (err) {
            failure = connectionProblem("the proxy refused the reverse tunnel registration", err);
            return teardown();
          }
          if (this.closed) return teardown();
          clearTimeout(deadline);
          registeredAt = this.opts.clock.now().getTime();
          this.isConnected = true;
          this.opts.log.info({ proxy: this.opts.proxyAddr, hostId: this.opts.hostId }, "reverse tunnel: connected");
          this.emit("connected");
        });
      });
      client.on("tcp connection", (details, accept, rejectChannel) => this.onChannel(details, accept, rejectChannel));
    });
  }

  private onChannel(details: ssh2.TcpConnectionDetails, accept: ssh2.AcceptConnection<ssh2.ClientChannel>, reject: ssh2.RejectConnection): void {
    if (details.destIP !== DIAL_BIND_ADDR) {
      reject();
      return;
    }
    let info: DialInfo;
    try {
      const req = decodeDialRequest(details.srcIP);
      info = { target: req.target ?? "", clientAddr: req.clientAddr };
    } catch (e) {
      this.opts.log.warn({ err: errorText(e) }, "reverse tunnel: refusing a malformed dial request");
      reject();
      return;
    }
    const stream = accept();
    stream.on("error", () => stream.destroy());
    try {
      this.opts.onDial(stream, info);
    } catch (e) {
      this.opts.log.error({ err: errorText(e), ...info }, "reverse tunnel: dial handler failed");
      stream.destroy();
    }
  }

  private dropCurrent(): void {
    const c = this.current;
    if (!c) return;
    c.client.end();
    c.socket.destroy();
  }
}

/** Fails early (bad-parameter) on a key or certificate that can never log in, instead of retrying forever. */
function checkedIdentity(identity: { hostKey: KeyObject; hostCertificate: string }): { hostKey: KeyObject; hostCertificate: string } {
  certificateKey(identity.hostKey, identity.hostCertificate);
  return identity;
}

function serverNameOption(host: string): { servername?: string } {
  // SNI must not carry an IP address.
  return net.isIP(host) === 0 ? { servername: host } : {};
}

export function parseHostPort(addr: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(addr.trim());
  const host = m?.[1] ?? m?.[2];
  const port = Number(m?.[3]);
  if (!host || !Number.isInteger(port) || port < 1 || port > 65_535) {
    throw badParameter(`invalid proxy address ${JSON.stringify(addr)}: want host:port`);
  }
  return { host, port };
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
