import http from "node:http";
import net from "node:net";
import type { Duplex } from "node:stream";
import type { Logger } from "pino";
import type { AuthClient } from "../../api/authclient.ts";
import { ALPN } from "../../api/constants.ts";
import { Multiplexer } from "./mux.ts";
import { createWebServer } from "./web/server.ts";
import type { SshEntry } from "./web/ssh-hop.ts";

export interface ProxyOptions {
  host: string;
  port: number;
  publicAddr: string;
  tls: { cert: string; key: string };
  auth: AuthClient;
  /** Where the `jumpgate-auth` route forwards to. */
  authAddr: { host: string; port: number };
  log: Logger;
  /** When given, serves raw SSH and the `jumpgate-ssh` route (a ProxySshServer). */
  sshProxy?: SshEntry;
  /** When given, serves the `jumpgate-reversetunnel` route (a TunnelServer). */
  reverseTunnel?: { handle(socket: Duplex, info?: { remoteAddr: string }): void };
  /** When given, serves Postgres clients at the port and the `jumpgate-postgres`/`jumpgate-mysql` routes (a DbProxy). */
  dbProxy?: {
    handlePostgres(socket: Duplex, info: { remoteAddr: string }): void;
    handleAlpn(stream: Duplex, info: { remoteAddr: string; alpn?: string }): void;
  };
  /** Idle expiry of web sessions (`proxy_service.web_idle_timeout`); default 30 min. */
  webIdleTimeoutMs?: number;
  /** Load balancers that must send a PROXY protocol header (`proxy_service.trusted_proxy_protocol_addrs`). */
  trustedProxyProtocolAddrs?: string[];
}

export interface ProxyService {
  port: number;
  mux: Multiplexer;
  setTls(t: { cert: string; key: string }): void;
  close(): Promise<void>;
}

/** The Proxy Service: the one public port, with web API and Auth passthrough for now. */
export async function startProxy(opts: ProxyOptions): Promise<ProxyService> {
  const mux = new Multiplexer({
    tls: opts.tls,
    log: opts.log,
    ...(opts.trustedProxyProtocolAddrs ? { trustedProxyProtocolAddrs: opts.trustedProxyProtocolAddrs } : {}),
  });
  const webServer = createWebServer({
    auth: opts.auth,
    log: opts.log,
    publicAddr: opts.publicAddr,
    authAddr: `${opts.authAddr.host}:${opts.authAddr.port}`,
    ...(opts.sshProxy ? { sshProxy: opts.sshProxy } : {}),
    ...(opts.webIdleTimeoutMs === undefined ? {} : { idleTimeoutMs: opts.webIdleTimeoutMs }),
  });
  const web = http.createServer(
    { requestTimeout: 30_000, headersTimeout: 10_000, keepAliveTimeout: 5_000, maxHeaderSize: 16 * 1024 },
    webServer.handle,
  );
  web.on("clientError", (_e, s) => s.destroy());
  web.on("upgrade", webServer.upgrade);
  mux.handleAlpn(ALPN.http1, (s) => web.emit("connection", s));
  mux.handleAlpn(ALPN.auth, (s) => {
    // Admin clients run TLS to Auth inside this stream: the proxy never sees their keys.
    const upstream = net.connect(opts.authAddr.port, opts.authAddr.host);
    upstream.setNoDelay(true);
    s.pipe(upstream).pipe(s);
    const end = () => {
      s.destroy();
      upstream.destroy();
    };
    s.on("error", end).on("close", end);
    upstream.on("error", end).on("close", end);
  });
  const { sshProxy, reverseTunnel } = opts;
  if (sshProxy) {
    mux.handleRaw("ssh", (s, info) => sshProxy.handleConnection(s, info));
    mux.handleAlpn(ALPN.ssh, (s, info) => sshProxy.handleConnection(s, info));
  }
  if (reverseTunnel) mux.handleAlpn(ALPN.reverseTunnel, (s, info) => reverseTunnel.handle(s, info));
  const { dbProxy } = opts;
  if (dbProxy) {
    mux.handleRaw("postgres", (s, info) => dbProxy.handlePostgres(s, info));
    mux.handleAlpn(ALPN.postgres, (s, info) => dbProxy.handleAlpn(s, info));
    mux.handleAlpn(ALPN.mysql, (s, info) => dbProxy.handleAlpn(s, info));
  }
  const addr = await mux.listen(opts.host, opts.port);
  return {
    port: addr.port,
    mux,
    setTls: (t) => mux.setTls(t),
    close: async () => {
      webServer.close();
      await mux.close();
      web.closeAllConnections();
      await new Promise<void>((r) => web.close(() => r()));
    },
  };
}
