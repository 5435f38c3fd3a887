/**
 * The connection to one cluster's API server: `HttpForwarder` (streaming,
 * upgrades, hop-by-hop handling) over connections this module opens itself,
 * so the TLS handshake can present the kubeconfig's client certificate and
 * trust its CA; or a bearer token from the kubeconfig, re-read from its file
 * as a rotating service-account token changes.
 */
import { readFileSync } from "node:fs";
import net from "node:net";
import type { Duplex } from "node:stream";
import tls from "node:tls";
import { type DialFn, HttpForwarder } from "../../httpfwd/index.ts";
import type { KubeClusterConfig } from "./kubeconfig.ts";

export interface KubeUpstreamOptions {
  /** How to reach the API server's host and port; default a TCP connection. */
  dial?: DialFn;
  /** Deadline for the connection and TLS handshake; default 10 s. */
  connectTimeoutMs?: number;
  /** Deadline for response headers; default 60 s (watches answer their headers at once). */
  headersTimeoutMs?: number;
  /** A token file is read again when its copy is older than this; default 60 s. */
  tokenRefreshMs?: number;
  /** Reads the token file; default `fs.readFileSync`. */
  readFile?: (path: string) => string;
}

const tcpDial: DialFn = ({ host, port }, signal) =>
  new Promise<Duplex>((resolve, reject) => {
    const s = net.connect({ host, port });
    const onAbort = () => s.destroy(new Error("aborted"));
    signal.addEventListener("abort", onAbort, { once: true });
    s.once("connect", () => {
      signal.removeEventListener("abort", onAbort);
      s.off("error", reject);
      resolve(s);
    });
    s.once("error", reject);
  });

export class KubeUpstream {
  readonly forwarder: HttpForwarder;
  private token: { value: string; readAt: number } | undefined;

  constructor(
    readonly cluster: KubeClusterConfig,
    private readonly o: KubeUpstreamOptions = {},
  ) {
    const u = new URL(cluster.server);
    const secure = u.protocol === "https:";
    const port = u.port || (secure ? "443" : "80");
    const dial = o.dial ?? tcpDial;
    this.forwarder = new HttpForwarder({
      // The forwarder speaks HTTP over the connection `connect` hands it: TLS is ours.
      url: `http://${u.hostname}:${port}`,
      dial: secure ? (target, signal) => this.connectTls(dial, target, signal) : dial,
      keepAlive: true,
      ...(o.connectTimeoutMs !== undefined ? { connectTimeoutMs: o.connectTimeoutMs } : {}),
      ...(o.headersTimeoutMs !== undefined ? { headersTimeoutMs: o.headersTimeoutMs } : {}),
    });
  }

  /** The service's bearer token for this cluster, or undefined when it uses a client certificate. */
  bearerToken(): string | undefined {
    const c = this.cluster.credentials;
    if (c.kind === "token") return c.token;
    if (c.kind !== "token-file") return undefined;
    const now = performance.now();
    if (this.token && now - this.token.readAt < (this.o.tokenRefreshMs ?? 60_000)) return this.token.value;
    try {
      const value = (this.o.readFile ?? ((p: string) => readFileSync(p, "utf8")))(c.path).trim();
      if (value !== "") this.token = { value, readAt: now };
    } catch {
      // Keep the last token read: a file being replaced may be missing for a moment.
    }
    return this.token?.value;
  }

  close(): void {
    this.forwarder.close();
  }

  private async connectTls(dial: DialFn, target: { host: string; port: number }, signal: AbortSignal): Promise<Duplex> {
    const raw = await dial(target, signal);
    const c = this.cluster;
    const name = c.tlsServerName ?? target.host;
    return new Promise<Duplex>((resolve, reject) => {
      const t = tls.connect({
        socket: raw,
        host: name,
        ...(net.isIP(name) === 0 ? { servername: name } : {}),
        ...(c.ca !== undefined ? { ca: c.ca } : {}),
        ...(c.credentials.kind === "client-cert" ? { cert: c.credentials.cert, key: c.credentials.key } : {}),
        rejectUnauthorized: !c.insecureSkipTlsVerify,
        ALPNProtocols: ["http/1.1"],
      });
      const onAbort = () => t.destroy(new Error("aborted"));
      signal.addEventListener("abort", onAbort, { once: true });
      t.once("secureConnect", () => {
        signal.removeEventListener("abort", onAbort);
        t.off("error", reject);
        resolve(t);
      });
      t.once("error", (e) => {
        signal.removeEventListener("abort", onAbort);
        raw.destroy();
        reject(e);
      });
    });
  }
}
