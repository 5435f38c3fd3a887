/**
 * The proxy's application access in one object (DESIGN §5): the browser path
 * (an HTTP server for connections whose TLS server name is an app host) and
 * the `jsh proxy app` path (the `jumpgate-app` / `jumpgate-tcp` ALPN routes).
 * Both reach Application Services through `routes` and audit refusals
 * through `onRefused`.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import type { Logger } from "pino";
import type { Clock } from "../../../api/clock.ts";
import { AppWebHandler } from "./browser.ts";
import { AppTlsRoute } from "./cli.ts";
import type { AppRefusal, AppRoutes } from "./dialer.ts";
import type { AppSessionAuth } from "./sessions.ts";

export interface AppProxyOptions {
  /** host:port users reach the proxy at; apps live at `NAME.<its host>`. */
  proxyPublicAddr: string;
  /** The proxy's own Auth client. */
  auth: AppSessionAuth;
  routes: AppRoutes;
  /** Hosts of apps' configured `public_addr` (normalised) → app name. */
  publicAddrs(): Promise<ReadonlyMap<string, string>>;
  userCas(): string[];
  /** The certificate presented inside the `jumpgate-app` route (host CA). */
  serverTls(): { cert: string; key: string };
  lockedBy(who: { user: string; roles: string[] }): Promise<string | undefined>;
  onRefused?(r: AppRefusal): void;
  clock: Clock;
  log: Logger;
  /** How long Auth's answer about an app-session cookie is reused; default 5 s. */
  cacheMs?: number;
}

export class AppProxy {
  readonly web: AppWebHandler;
  readonly tls: AppTlsRoute;

  constructor(o: AppProxyOptions) {
    const common = { routes: o.routes, clock: o.clock, log: o.log, ...(o.onRefused ? { onRefused: o.onRefused } : {}) };
    this.web = new AppWebHandler({
      ...common,
      proxyPublicAddr: o.proxyPublicAddr,
      auth: o.auth,
      publicAddrs: o.publicAddrs,
      ...(o.cacheMs === undefined ? {} : { cacheMs: o.cacheMs }),
    });
    this.tls = new AppTlsRoute({ ...common, userCas: o.userCas, serverTls: o.serverTls, lockedBy: o.lockedBy });
  }

  /** Whether a TLS connection for server name `sni` goes to the app server (else to the web UI). */
  isAppHost(sni: string | undefined): boolean | Promise<boolean> {
    return this.web.isAppHost(sni);
  }

  /** The app server's request handler. */
  handle = (req: IncomingMessage, res: ServerResponse): void => this.web.handle(req, res);

  /** The app server's `upgrade` handler (WebSockets). */
  upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => this.web.upgrade(req, socket, head);

  /** The mux's `jumpgate-app` / `jumpgate-tcp` handler. */
  handleAlpn = (stream: Duplex, info: { remoteAddr: string }): void => this.tls.handleAlpn(stream, info);

  close(): void {
    this.web.close();
  }
}
