import net from "node:net";
import tls from "node:tls";
import type { Logger } from "pino";
import { looksLikePgPreStartup } from "../../api/dbwire.ts";
import { isJumpgateError } from "../../api/errors.ts";
import { parseClientHello } from "./clienthello.ts";
import { type Endpoint, parseProxyHeader } from "./proxyprotocol/index.ts";

/**
 * The proxy's one public port (DESIGN §5). Each connection must say what it is
 * within a deadline: the first bytes select raw SSH or TLS, and for TLS the
 * ALPN protocol the client asked for selects the handler. Later issues register
 * more protocols; nothing here knows what they do.
 *
 * Connections from trusted load balancers must start with a PROXY protocol
 * header (v1 or v2); the client it names becomes the connection's remote
 * address for every handler. Anyone else sending such a header is refused.
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
  /** IPs and CIDR ranges (IPv4 or IPv6) that must, and alone may, send a PROXY protocol header. */
  trustedProxyProtocolAddrs?: string[];
  log: Logger;
}

/** A key pair a route presents instead of the public one, with the CAs its CertificateRequest names. */
export interface RouteTls extends TlsKeyPair {
  /** Trust anchors named to the client (so it picks the right certificate); the handler still verifies. */
  ca?: string[];
}

export interface CertSniOptions {
  /** The route's own certificate, read for each new connection (renewals apply at once); default: the public one. */
  tls?: () => RouteTls;
}

interface CertSniRoute {
  match: (serverName: string) => boolean;
  alpn: string[];
  handler: ConnHandler;
  tls?: () => RouteTls;
  server?: tls.Server;
  /** What the server presents now (its own pair): cert and CAs, to see a renewal. */
  applied?: string;
}

export type FirstBytesKind = "tls" | "ssh" | "postgres" | "proxy-v1" | "proxy-v2" | "unknown" | "need-more";

/** Raw (non-TLS) protocols a handler can be registered for. */
export type RawKind = "ssh" | "postgres";

const PROXY_V2_SIG = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

/** Pure: classifies the first bytes of a connection. */
export function classifyFirstBytes(buf: Buffer): FirstBytesKind {
  if (buf.length === 0) return "need-more";
  if (buf[0] === 0x16) return "tls";
  // A Postgres client speaks first with an untyped packet: SSLRequest, GSSENCRequest or StartupMessage.
  if (buf[0] === 0x00) {
    const pg = looksLikePgPreStartup(buf);
    return pg === undefined ? "need-more" : pg ? "postgres" : "unknown";
  }
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
  private readonly rawHandlers = new Map<RawKind, ConnHandler>();
  private readonly certSniRoutes: CertSniRoute[] = [];
  private readonly sockets = new Set<net.Socket>();
  private server: net.Server | undefined;
  private tls: tls.Server | undefined;

  private keyPair: TlsKeyPair;
  private readonly trusted: (address: string) => boolean;
  /** Real clients of PROXY-header connections on their way through TLS, by the socket's own peer address. */
  private readonly proxiedTls = new Map<string, Endpoint>();

  constructor(private readonly opts: MuxOptions) {
    this.keyPair = opts.tls;
    this.trusted = addressMatcher(opts.trustedProxyProtocolAddrs ?? []);
  }

  /** Swaps the public certificate; new handshakes use it at once. */
  setTls(pair: TlsKeyPair): void {
    this.keyPair = pair;
    this.tls?.setSecureContext({ ...pair, minVersion: "TLSv1.2" });
    for (const r of this.certSniRoutes) if (!r.tls) r.server?.setSecureContext({ ...pair, minVersion: "TLSv1.2" });
  }

  /**
   * TLS connections whose SNI `match`es (read from the ClientHello before the
   * handshake) are asked for a client certificate and go to `handler`; `alpn`
   * lists the protocols offered to them. Every other name is never asked, so
   * browsers on the web UI see no certificate prompt. With `o.tls` the route
   * presents its own certificate (one its clients pin, whatever the public one is).
   */
  handleClientCertSni(match: (serverName: string) => boolean, alpn: string[], handler: ConnHandler, o: CertSniOptions = {}): void {
    this.certSniRoutes.push({ match, alpn, handler, ...(o.tls ? { tls: o.tls } : {}) });
  }

  /** Registers the handler for TLS connections that negotiated `protocol`. */
  handleAlpn(protocol: string, handler: ConnHandler): void {
    this.alpnHandlers.set(protocol, handler);
  }

  handleRaw(kind: RawKind, handler: ConnHandler): void {
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
    const peerKey = `${socket.remoteAddress ?? "?"}:${socket.remotePort ?? 0}`;
    let remoteAddr = peerKey;
    const timeout = this.opts.handshakeTimeoutMs ?? 10_000;
    // One deadline covers the PROXY header and the first bytes after it.
    const deadline = setTimeout(() => socket.destroy(), timeout);
    // From a trusted balancer, a PROXY header must come first.
    const trusted = this.trusted(socket.remoteAddress ?? "");
    let expectHeader = trusted;
    let client: Endpoint | undefined;
    let buf = Buffer.alloc(0);
    const refuse = (why: string, detail: Record<string, unknown> = {}) => {
      socket.off("data", onData);
      clearTimeout(deadline);
      this.opts.log.debug({ remoteAddr, ...detail }, why);
      socket.destroy();
    };
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (expectHeader) {
        let r: ReturnType<typeof parseProxyHeader>;
        try {
          r = parseProxyHeader(buf);
        } catch (e) {
          const err = isJumpgateError(e) ? e.message : String(e);
          return refuse("closing connection from a trusted proxy without a valid PROXY header", { err });
        }
        // The parser bounds what it waits for (107 bytes for v1, 64 KiB for v2).
        if (r.kind === "need-more") return;
        expectHeader = false;
        if (r.header.command === "proxy") {
          client = r.header.source;
          remoteAddr = `${client.address}:${client.port}`;
        }
        buf = buf.subarray(r.consumed);
        if (buf.length === 0) return;
      }
      const kind = classifyFirstBytes(buf);
      if (kind === "need-more" && buf.length < 64) return;
      if (kind === "proxy-v1" || kind === "proxy-v2") {
        const why = trusted ? "a second PROXY header" : "a PROXY header from an address not in trusted_proxy_protocol_addrs";
        return refuse(`closing connection: ${why}`, { peer: peerKey });
      }
      // Names that need a client certificate go to their own TLS server: read the ClientHello first.
      let certSni: CertSniRoute | undefined;
      if (kind === "tls" && this.certSniRoutes.length > 0) {
        const hello = parseClientHello(buf);
        if (hello.kind === "need-more") return;
        const name = hello.kind === "ok" ? hello.serverName : undefined;
        if (name !== undefined) certSni = this.certSniRoutes.find((r) => r.match(name));
      }
      socket.off("data", onData);
      socket.pause();
      socket.unshift(buf);
      clearTimeout(deadline);
      if (client) presentAs(socket, client);
      if (kind === "tls") return this.acceptTls(socket, peerKey, client, certSni);
      const raw = kind === "ssh" || kind === "postgres" ? this.rawHandlers.get(kind) : undefined;
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
      const client = this.takeProxied(s);
      if (client) presentAs(s, client);
      const info: ConnInfo = { remoteAddr: `${s.remoteAddress ?? "?"}:${s.remotePort ?? 0}`, alpn };
      const serverName = (s as tls.TLSSocket & { servername?: string | false }).servername;
      if (typeof serverName === "string") info.serverName = serverName;
      handler(s, info);
    });
    server.on("tlsClientError", (_err, s) => {
      this.takeProxied(s);
      s.destroy();
    });
    this.tls = server;
    return server;
  }

  private acceptTls(socket: net.Socket, peerKey: string, client: Endpoint | undefined, certSni?: CertSniRoute): void {
    if (client) {
      // The TLS socket reports the balancer's address (its own handle's peer); remember the client for it.
      this.proxiedTls.set(peerKey, client);
      socket.once("close", () => this.proxiedTls.delete(peerKey));
    }
    // From here the TLS server's handshakeTimeout is the deadline. The TLS socket
    // takes over the handle and first consumes the bytes unshifted back above.
    (certSni ? this.certTlsServer(certSni) : this.tlsServer()).emit("connection", socket);
  }

  /**
   * A TLS server that asks for (but does not itself require or verify) a
   * client certificate: the route's handler verifies it against the user CA
   * and refuses with a reason the client can show.
   */
  private certTlsServer(route: CertSniRoute): tls.Server {
    if (route.server) {
      if (route.tls) this.applyRouteTls(route, route.server);
      return route.server;
    }
    const own = route.tls?.();
    if (own) route.applied = routeTlsKey(own);
    const server = tls.createServer({
      ...(own ? { cert: own.cert, key: own.key, ...(own.ca ? { ca: own.ca } : {}) } : this.keyPair),
      minVersion: "TLSv1.2",
      handshakeTimeout: this.opts.handshakeTimeoutMs ?? 10_000,
      requestCert: true,
      rejectUnauthorized: false,
      ALPNCallback: ({ protocols: offered }) => offered.find((p) => route.alpn.includes(p)),
    });
    server.on("secureConnection", (s: tls.TLSSocket) => {
      s.on("error", () => s.destroy());
      const client = this.takeProxied(s);
      if (client) presentAs(s, client);
      const info: ConnInfo = { remoteAddr: `${s.remoteAddress ?? "?"}:${s.remotePort ?? 0}` };
      if (typeof s.alpnProtocol === "string") info.alpn = s.alpnProtocol;
      const serverName = (s as tls.TLSSocket & { servername?: string | false }).servername;
      if (typeof serverName === "string") info.serverName = serverName;
      route.handler(s, info);
    });
    server.on("tlsClientError", (_err, s) => {
      this.takeProxied(s);
      s.destroy();
    });
    route.server = server;
    return server;
  }

  /** A renewed route certificate (or new CAs) applies to the next handshake. */
  private applyRouteTls(route: CertSniRoute, server: tls.Server): void {
    const own = route.tls?.();
    if (!own) return;
    const key = routeTlsKey(own);
    if (key === route.applied) return;
    // Tried once per change: a broken pair is logged once, not on every connection.
    route.applied = key;
    try {
      server.setSecureContext({ cert: own.cert, key: own.key, ...(own.ca ? { ca: own.ca } : {}), minVersion: "TLSv1.2" });
    } catch (e) {
      this.opts.log.error({ err: String(e) }, "cannot use a route's new certificate; keeping the previous one");
    }
  }

  private takeProxied(s: net.Socket): Endpoint | undefined {
    if (this.proxiedTls.size === 0) return undefined;
    const key = `${s.remoteAddress ?? "?"}:${s.remotePort ?? 0}`;
    const client = this.proxiedTls.get(key);
    this.proxiedTls.delete(key);
    return client;
  }
}

const routeTlsKey = (t: RouteTls) => `${t.cert}\n${(t.ca ?? []).join("\n")}`;

/**
 * Makes the socket report the client from a PROXY header as its remote end, so
 * every handler (and `req.socket.remoteAddress` in HTTP handlers) sees it.
 */
function presentAs(socket: net.Socket, client: Endpoint): void {
  const family = net.isIPv6(client.address) ? "IPv6" : "IPv4";
  for (const [name, value] of [
    ["remoteAddress", client.address],
    ["remotePort", client.port],
    ["remoteFamily", family],
  ] as const) {
    Object.defineProperty(socket, name, { value, configurable: true, enumerable: true });
  }
}

/**
 * A matcher for IPs and CIDR ranges (IPv4 and IPv6). IPv4-mapped IPv6 peers
 * ("::ffff:10.0.0.1", as a dual-stack listener reports them) match IPv4 entries.
 */
export function addressMatcher(entries: string[]): (address: string) => boolean {
  if (entries.length === 0) return () => false;
  const list = new net.BlockList();
  for (const entry of entries) {
    const [ip = "", bits] = entry.split("/");
    const type = net.isIPv6(ip) ? "ipv6" : "ipv4";
    if (bits === undefined) list.addAddress(ip, type);
    else list.addSubnet(ip, Number(bits), type);
  }
  return (address) => {
    const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
    if (v4 !== undefined && list.check(v4, "ipv4")) return true;
    const type = net.isIPv4(address) ? "ipv4" : net.isIPv6(address) ? "ipv6" : undefined;
    return type !== undefined && list.check(address, type);
  };
}
