import http from "node:http";
import net from "node:net";
import type { Duplex } from "node:stream";
import type { Logger } from "pino";
import { APP_ALPN, TCP_APP_ALPN } from "../../api/appwire.ts";
import type { AuthClient } from "../../api/authclient.ts";
import { ALPN } from "../../api/constants.ts";
import { KUBE_ALPN, kubeSni } from "../../api/kubewire.ts";
import { Multiplexer, type RouteTls } from "./mux.ts";
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
  /**
   * When given, serves apps (an AppProxy): TLS connections whose server name is
   * an app host go to a separate HTTP server for apps, and the `jumpgate-app` /
   * `jumpgate-tcp` routes to its `jsh proxy app` side.
   */
  appProxy?: {
    isAppHost(serverName: string | undefined): boolean | Promise<boolean>;
    handle(req: http.IncomingMessage, res: http.ServerResponse): void;
    upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void;
    handleAlpn(stream: Duplex, info: { remoteAddr: string; alpn?: string }): void;
  };
  /**
   * When given, serves kubectl (a KubeProxy): TLS connections whose server
   * name is `kube.<public host>` are asked for a client certificate, presented
   * `serverTls()` (host CA), and handed to `handle`.
   */
  kubeProxy?: {
    handle(socket: Duplex, info: { remoteAddr: string }): void;
    serverTls(): RouteTls;
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
  const web = http.createServer({ requestTimeout: 30_000, headersTimeout: 10_000, keepAliveTimeout: 5_000, maxHeaderSize: 16 * 1024 }, webServer.handle);
  web.on("clientError", (_e, s) => s.destroy());
  web.on("upgrade", webServer.upgrade);
  const { appProxy } = opts;
  // Apps stream: no request deadline (long uploads, downloads, event streams); idle keep-alive still ends.
  const apps = appProxy
    ? http.createServer({ requestTimeout: 0, headersTimeout: 30_000, keepAliveTimeout: 5_000, maxHeaderSize: 16 * 1024 }, appProxy.handle)
    : undefined;
  if (apps && appProxy) {
    apps.on("clientError", (_e, s) => s.destroy());
    apps.on("upgrade", appProxy.upgrade);
    mux.handleAlpn(APP_ALPN, (s, info) => appProxy.handleAlpn(s, info));
    mux.handleAlpn(TCP_APP_ALPN, (s, info) => appProxy.handleAlpn(s, info));
  }
  mux.handleAlpn(ALPN.http1, (s, info) => {
    // The TLS server name picks the server: an app's host, or the web UI and API.
    const routed = apps && appProxy ? appProxy.isAppHost(info.serverName) : false;
    if (typeof routed === "boolean") (routed && apps ? apps : web).emit("connection", s);
    else
      routed.then(
        (isApp) => (isApp && apps ? apps : web).emit("connection", s),
        () => s.destroy(),
      );
  });
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
  const { kubeProxy } = opts;
  if (kubeProxy) {
    const name = kubeSni(opts.publicAddr).toLowerCase();
    // kubectl offers h2 and http/1.1: the route serves HTTP/1.1 only (the Kubernetes Service speaks it, upgrades included).
    mux.handleClientCertSni(
      (n) => n.toLowerCase() === name,
      [ALPN.http1, KUBE_ALPN],
      (s, info) => kubeProxy.handle(s, info),
      {
        tls: () => kubeProxy.serverTls(),
      },
    );
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
      apps?.closeAllConnections();
      await Promise.all([new Promise<void>((r) => web.close(() => r())), apps ? new Promise<void>((r) => apps.close(() => r())) : undefined]);
    },
  };
}
