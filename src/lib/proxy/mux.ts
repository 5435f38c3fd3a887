import net from "node:net";
import tls from "node:tls";
import type { Logger } from "pino";

/**
 * The proxy's one public port (DESIGN §5). Each connection must say what it is
 * within a deadline: the first bytes select raw SSH or TLS, and for TLS the
 * ALPN protocol the client asked for selects the handler. Later issues register
 * more protocols; nothing here knows what they do.
 */
export type ConnHandler = (socket: net.Socket | tls.TLSSocket, info: ConnInfo) => void;

export interface ConnInfo {
  remoteAddr: string;
  alpn?: string;
  serverName?: string;
}

export interface TlsKeyPair {
  cert: string;
  key: string;
}

export interface MuxOptions {
  tls: TlsKeyPair;
  handshakeTimeoutMs?: number;
  log: Logger;
}

export type FirstBytesKind = "tls" | "ssh" | "proxy-v1" | "proxy-v2" | "unknown" | "need-more";

const PROXY_V2_SIG = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

/** Pure: classifies the first bytes of a connection. */
export function classifyFirstBytes(buf: Buffer): FirstBytesKind {
  if (buf.length === 0) return "need-more";
  if (buf[0] === 0x16) return "tls";
  const starts = (sig: Buffer): boolean | undefined => {
    const n = Math.min(sig.length, buf.length);
    if (!buf.subarray(0, n).equals(sig.subarray(0, n))) return false;
    return n === sig.length ? true : undefined;
  };
  for (const [sig, kind] of [
    [Buffer.from("SSH-"), "ssh"],
    [Buffer.from("PROXY "), "proxy-v1"],
    [PROXY_V2_SIG, "proxy-v2"],
  ] as const) {
    const r = starts(sig);
    if (r === true) return kind;
    if (r === undefined) return "need-more";
  }
  return "unknown";
}

export class Multiplexer {
  private readonly alpnHandlers = new Map<string, ConnHandler>();
  private readonly rawHandlers = new Map<"ssh", ConnHandler>();
  private readonly sockets = new Set<net.Socket>();
  private server: net.Server | undefined;
  private tls: tls.Server | undefined;

  private keyPair: TlsKeyPair;

  constructor(private readonly opts: MuxOptions) {
    this.keyPair = opts.tls;
  }

  /** Swaps the public certificate; new handshakes use it at once. */
  setTls(pair: TlsKeyPair): void {
    this.keyPair = pair;
    this.tls?.setSecureContext({ ...pair, minVersion: "TLSv1.2" });
  }

  /** Registers the handler for TLS connections that negotiated `protocol`. */
  handleAlpn(protocol: string, handler: ConnHandler): void {
    this.alpnHandlers.set(protocol, handler);
  }

  handleRaw(kind: "ssh", handler: ConnHandler): void {
    this.rawHandlers.set(kind, handler);
  }

  listen(host: string, port: number): Promise<net.AddressInfo> {
    const server = net.createServer({ pauseOnConnect: false }, (s) => this.accept(s));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => {
        server.off("error", reject);
        resolve(server.address() as net.AddressInfo);
      });
    });
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const s of this.sockets) s.destroy();
    });
  }

  private accept(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.once("close", () => this.sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    socket.setNoDelay(true);
    const remoteAddr = `${socket.remoteAddress ?? "?"}:${socket.remotePort ?? 0}`;
    const timeout = this.opts.handshakeTimeoutMs ?? 10_000;
    const deadline = setTimeout(() => socket.destroy(), timeout);
    let buf = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      const kind = classifyFirstBytes(buf);
      if (kind === "need-more" && buf.length < 64) return;
      socket.off("data", onData);
      socket.pause();
      socket.unshift(buf);
      clearTimeout(deadline);
      if (kind === "tls") return this.acceptTls(socket);
      const raw = kind === "ssh" ? this.rawHandlers.get("ssh") : undefined;
      if (!raw) {
        this.opts.log.debug({ remoteAddr, kind }, "closing connection with unknown protocol");
        socket.destroy();
        return;
      }
      raw(socket, { remoteAddr });
    };
    socket.on("data", onData);
  }

  private tlsServer(): tls.Server {
    if (this.tls) return this.tls;
    const server = tls.createServer({
      ...this.keyPair,
      minVersion: "TLSv1.2",
      handshakeTimeout: this.opts.handshakeTimeoutMs ?? 10_000,
      // Prefer the client's order among what we serve; no match ends the handshake.
      ALPNCallback: ({ protocols: offered }) => offered.find((p) => this.alpnHandlers.has(p)),
    });
    server.on("secureConnection", (s: tls.TLSSocket) => {
      const alpn = typeof s.alpnProtocol === "string" ? s.alpnProtocol : "http/1.1";
      const handler = this.alpnHandlers.get(alpn);
      if (!handler) {
        s.destroy();
        return;
      }
      s.on("error", () => s.destroy());
      const info: ConnInfo = { remoteAddr: `${s.remoteAddress ?? "?"}:${s.remotePort ?? 0}`, alpn };
      const serverName = (s as tls.TLSSocket & { servername?: string | false }).servername;
      if (typeof serverName === "string") info.serverName = serverName;
      handler(s, info);
    });
    server.on("tlsClientError", (_err, s) => s.destroy());
    this.tls = server;
    return server;
  }

  private acceptTls(socket: net.Socket): void {
    // From here the TLS server's handshakeTimeout is the deadline. The TLS socket
    // takes over the handle and first consumes the bytes unshifted back above.
    this.tlsServer().emit("connection", socket);
  }
}
