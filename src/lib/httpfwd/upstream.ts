/**
 * The connection side of forwarding: an `http.Agent` whose sockets come from a
 * dial function (a reverse-tunnel channel, or plain TCP by default), optionally
 * wrapped in TLS, each with a deadline to be up.
 */
import http from "node:http";
import net from "node:net";
import type { Duplex } from "node:stream";
import tls from "node:tls";
import { toUpstreamError, UpstreamError } from "./errors.ts";

/** Opens a byte stream to the upstream's host and port (TCP, a tunnel channel, …). */
export type DialFn = (target: { host: string; port: number }, signal: AbortSignal) => Duplex | Promise<Duplex>;

export interface UpstreamTls {
  /** PEM CA certificate(s) to trust; absent: the system roots. */
  ca?: string | string[];
  /** No certificate or name checks (an app's `insecure_skip_verify`). */
  insecureSkipVerify?: boolean;
  /** Name to send (SNI) and verify; absent: the upstream's host. */
  serverName?: string;
}

export interface UpstreamOptions {
  /** `http://host:port` or `https://host:port`; only scheme, host and port are used, the request's path goes as it came. */
  url: string | URL;
  /** How to reach host:port; default a TCP connection. */
  dial?: DialFn;
  tls?: UpstreamTls;
  /** Deadline for the connection (and TLS handshake) to be up; default 10 s. */
  connectTimeoutMs?: number;
  /** Deadline for the response headers after the request was sent; default 60 s. */
  headersTimeoutMs?: number;
  /** Reuse upstream connections between requests; default true. */
  keepAlive?: boolean;
  /** Keep the client's Host header instead of the upstream's host:port; default false. */
  preserveHost?: boolean;
}

export interface ResolvedUpstream {
  secure: boolean;
  host: string;
  port: number;
  /** `host:port` as people read it, for messages. */
  display: string;
  /** The Host header for the upstream. */
  hostHeader: string;
  connectTimeoutMs: number;
  headersTimeoutMs: number;
  preserveHost: boolean;
}

export function resolveUpstream(o: UpstreamOptions): ResolvedUpstream {
  const u = typeof o.url === "string" ? new URL(o.url) : o.url;
  if (u.protocol !== "http:" && u.protocol !== "https:") throw new TypeError(`upstream must be http: or https:, got ${u.protocol}`);
  const secure = u.protocol === "https:";
  const host = u.hostname.startsWith("[") ? u.hostname.slice(1, -1) : u.hostname;
  const port = u.port ? Number(u.port) : secure ? 443 : 80;
  return {
    secure,
    host,
    port,
    display: u.host || `${u.hostname}:${port}`,
    hostHeader: u.host,
    connectTimeoutMs: o.connectTimeoutMs ?? 10_000,
    headersTimeoutMs: o.headersTimeoutMs ?? 60_000,
    preserveHost: o.preserveHost ?? false,
  };
}

/** node:http's client calls these on its sockets; a tunnel channel may not have them. */
function socketShape(d: Duplex): Duplex {
  const s = d as unknown as Record<string, unknown>;
  for (const m of ["setKeepAlive", "setNoDelay", "setTimeout", "ref", "unref"]) {
    if (typeof s[m] !== "function") s[m] = () => d;
  }
  return d;
}

const tcpDial: DialFn = ({ host, port }) =>
  new Promise<Duplex>((resolve, reject) => {
    const s = net.connect({ host, port });
    s.once("connect", () => {
      s.off("error", reject);
      resolve(s);
    });
    s.once("error", reject);
  });

const firstLine = (e: Error) => (e.message.split("\n")[0] ?? "").slice(0, 200);

type OnCreate = (err: Error | null, socket?: Duplex) => void;

/** Dials, then (for https) shakes hands, all within the connect deadline. */
export function connectUpstream(up: ResolvedUpstream, dial: DialFn, tlsOpts: UpstreamTls | undefined, done: OnCreate): void {
  const ac = new AbortController();
  let settled = false;
  let opened: Duplex | undefined;
  const finish = (err: Error | null, s?: Duplex) => {
    if (settled) {
      if (s && s !== opened) s.destroy();
      return;
    }
    settled = true;
    clearTimeout(timer);
    if (err) {
      ac.abort();
      opened?.destroy();
      done(err);
    } else done(null, s);
  };
  const timer = setTimeout(
    () => finish(new UpstreamError("connect-timeout", `upstream ${up.display} did not accept a connection within ${up.connectTimeoutMs} ms`)),
    up.connectTimeoutMs,
  );
  Promise.resolve()
    .then(() => dial({ host: up.host, port: up.port }, ac.signal))
    .then(
      (raw) => {
        if (settled) {
          raw.destroy();
          return;
        }
        opened = raw;
        if (typeof (raw as net.Socket).setNoDelay === "function") (raw as net.Socket).setNoDelay(true);
        if (!up.secure) return finish(null, socketShape(raw));
        const name = tlsOpts?.serverName ?? up.host;
        const t = tls.connect({
          socket: raw,
          host: name,
          ...(net.isIP(name) === 0 ? { servername: name } : {}),
          ...(tlsOpts?.ca === undefined ? {} : { ca: tlsOpts.ca }),
          rejectUnauthorized: tlsOpts?.insecureSkipVerify !== true,
          ALPNProtocols: ["http/1.1"],
        });
        opened = t;
        t.once("secureConnect", () => {
          t.off("error", onTlsError);
          finish(null, t);
        });
        const onTlsError = (e: Error) => finish(new UpstreamError("tls-failed", `TLS to upstream ${up.display} failed: ${firstLine(e)}`, e));
        t.once("error", onTlsError);
      },
      (e: unknown) => finish(toUpstreamError(e, up.display, "connect")),
    );
}

/** A keep-alive agent whose connections go through `connectUpstream`. */
export class UpstreamAgent extends http.Agent {
  constructor(
    private readonly up: ResolvedUpstream,
    private readonly dial: DialFn = tcpDial,
    private readonly tlsOpts?: UpstreamTls,
    keepAlive = true,
  ) {
    super({ keepAlive, scheduling: "lifo" });
  }

  // node:http's Agent calls this with (options, oncreate) and takes the socket from oncreate.
  override createConnection(_options: unknown, oncreate: OnCreate): undefined {
    connectUpstream(this.up, this.dial, this.tlsOpts, oncreate);
    return undefined;
  }
}
