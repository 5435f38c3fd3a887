/**
 * Browser access to apps (docs/app-access.md): the proxy's HTTP server for
 * connections whose TLS server name is an app host. The launch token is
 * exchanged for the app-session cookie at `APP_AUTH_PATH`; every other
 * request needs that cookie and is forwarded, body streamed, to an
 * Application Service through its reverse tunnel. The service checks the
 * certificate and adds the JWT; the proxy only routes.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import type { Logger } from "pino";
import { APP_AUTH_PATH, APP_LOGOUT_PATH } from "../../../api/appwire.ts";
import type { Clock } from "../../../api/clock.ts";
import { isJumpgateError } from "../../../api/errors.ts";
import type { AppSession } from "../../../api/gen/jumpgate/v1/auth_pb.ts";
import type { HeaderList } from "../../httpfwd/index.ts";
import { appSessionCookie, clearedAppSessionCookie, readCookie, withoutCookie } from "./cookies.ts";
import { type AppRefusal, type AppRoutes, noServiceMessage } from "./dialer.ts";
import { type ForwarderLease, ForwarderPool } from "./forwarders.ts";
import { appForHost, appOrigin, appSubdomain, hostMatchesSni, hostOf, launchUrl, safeAppPath } from "./hosts.ts";
import { type Answer, page, redirect, sendAnswer, writeAnswer } from "./respond.ts";
import { type AppSessionAuth, AppSessionCache } from "./sessions.ts";

export interface AppWebOptions {
  /** host:port users reach the proxy at; apps live at `NAME.<its host>`. */
  proxyPublicAddr: string;
  /** The proxy's own Auth client (launch-token exchange, cookies). */
  auth: AppSessionAuth;
  routes: AppRoutes;
  /** Hosts of apps' configured `public_addr` (normalised) → app name; cached by the caller. */
  publicAddrs(): Promise<ReadonlyMap<string, string>>;
  onRefused?(r: AppRefusal): void;
  clock: Clock;
  log: Logger;
  /** How long Auth's answer about a cookie is reused; default 5 s. */
  cacheMs?: number;
}

type Decision = { answer: Answer } | { forward: ForwarderLease };

const DEAD_SESSION = new Set(["unauthenticated", "not-found", "access-denied"]);

export const clientAddrOf = (req: IncomingMessage) => {
  const a = req.socket.remoteAddress ?? "?";
  return `${a.startsWith("::ffff:") ? a.slice(7) : a}:${req.socket.remotePort ?? 0}`;
};

const serverNameOf = (req: IncomingMessage): string | undefined => {
  const n = (req.socket as { servername?: unknown }).servername;
  return typeof n === "string" && n !== "" ? n : undefined;
};

export class AppWebHandler {
  private readonly sessions: AppSessionCache;
  private readonly pool: ForwarderPool;
  private readonly proxyHost: string;

  constructor(private readonly o: AppWebOptions) {
    this.proxyHost = hostOf(o.proxyPublicAddr);
    this.sessions = new AppSessionCache({ auth: o.auth, clock: o.clock, ...(o.cacheMs === undefined ? {} : { cacheMs: o.cacheMs }) });
    this.pool = new ForwarderPool({ routes: o.routes, log: o.log, clock: o.clock });
  }

  /** Whether a TLS connection for server name `sni` belongs to the app server (else to the web UI). */
  isAppHost(sni: string | undefined): boolean | Promise<boolean> {
    const host = hostOf(sni);
    if (host === "" || host === this.proxyHost) return false;
    if (appSubdomain(host, this.proxyHost) !== undefined) return true;
    return this.o.publicAddrs().then(
      (m) => m.has(host),
      () => false,
    );
  }

  handle = (req: IncomingMessage, res: ServerResponse): void => {
    this.decide(req).then(
      (d) => {
        if ("answer" in d) return sendAnswer(res, d.answer);
        const addr = clientAddrOf(req);
        void d.forward.fwd.forward(req, res, this.forwardOptions(req, addr)).finally(() => d.forward.release());
      },
      (e: unknown) => {
        this.o.log.error({ err: String(e) }, "app proxy: request failed");
        sendAnswer(res, page(500, "Something went wrong", "the proxy could not handle this request"));
      },
    );
  };

  /** The app server's `upgrade` event: WebSockets pass through after the same checks. */
  upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on("error", () => socket.destroy());
    this.decide(req).then(
      (d) => {
        if ("answer" in d) return writeAnswer(socket, d.answer);
        const addr = clientAddrOf(req);
        void d.forward.fwd.upgrade(req, socket, head, this.forwardOptions(req, addr)).finally(() => d.forward.release());
      },
      (e: unknown) => {
        this.o.log.error({ err: String(e) }, "app proxy: upgrade failed");
        writeAnswer(socket, page(500, "Something went wrong", "the proxy could not handle this request"));
      },
    );
  };

  close(): void {
    this.pool.close();
  }

  private forwardOptions(req: IncomingMessage, clientAddr: string) {
    return {
      clientAddr: clientAddr.replace(/:\d+$/, "").replace(/^\[|\]$/g, ""),
      proto: "https" as const,
      host: req.headers.host ?? "",
      // The app never sees the proxy's session cookie.
      requestHeaders: (h: HeaderList) => {
        const rest = withoutCookie(h.has("cookie") ? h.getAll("cookie").join("; ") : undefined);
        if (rest === undefined) h.delete("cookie");
        else h.set("Cookie", rest);
      },
    };
  }

  private async decide(req: IncomingMessage): Promise<Decision> {
    const sni = serverNameOf(req);
    if (!hostMatchesSni(req.headers.host, sni)) {
      return { answer: page(421, "Misdirected request", "the Host of this request does not match the name this connection was opened for") };
    }
    const host = hostOf(sni);
    const app = appForHost(host, this.proxyHost, await this.o.publicAddrs());
    if (app === undefined) return { answer: page(404, "No such app", `there is no app at ${host}`) };
    const url = new URL(req.url ?? "/", "https://app.invalid");
    const clientAddr = clientAddrOf(req);
    if (url.pathname === APP_AUTH_PATH) return { answer: await this.exchange(url, host, app, clientAddr) };
    const cookie = readCookie(req);
    if (url.pathname === APP_LOGOUT_PATH) return { answer: await this.logout(cookie, app) };
    const relaunch = (setCookie?: string) => ({ answer: redirect(302, launchUrl(this.o.proxyPublicAddr, app, req.url ?? "/"), setCookie) });
    if (cookie === undefined) return relaunch();
    let session: AppSession;
    try {
      session = await this.sessions.resolve(cookie);
    } catch (e) {
      if (isJumpgateError(e, "unauthenticated") || isJumpgateError(e, "not-found")) return relaunch(clearedAppSessionCookie());
      // Not a redirect: a session Auth refuses (a lock) would come straight back here.
      if (isJumpgateError(e, "access-denied")) {
        return {
          answer: page(403, "Access denied", e.message, {
            link: { href: launchUrl(this.o.proxyPublicAddr, app, "/"), text: `Open ${app} again` },
            setCookie: clearedAppSessionCookie(),
          }),
        };
      }
      this.o.log.warn({ err: String(e) }, "app proxy: cannot check an app session");
      return { answer: page(502, "Cannot open this app", "the proxy cannot check your app session right now; try again") };
    }
    if (session.appName !== app) {
      const reason = `this app session is for app ${session.appName}`;
      this.refused({ user: session.user, app, clientAddr, reason });
      return { answer: page(403, "Access denied", reason, { link: { href: launchUrl(this.o.proxyPublicAddr, app, "/"), text: `Open ${app}` } }) };
    }
    const servers = await this.o.routes.findServers(app);
    if (servers.length === 0) {
      const reason = noServiceMessage(app);
      this.refused({ user: session.user, app, clientAddr, reason });
      return { answer: page(502, "App unavailable", reason) };
    }
    // publicAddr in the header is what X-Forwarded-Host says: the Host the browser sent (it matched the SNI).
    return { forward: this.pool.lease(session, clientAddr, req.headers.host ?? host) };
  }

  /** `GET APP_AUTH_PATH?token=T&path=/x`: the launch token becomes the cookie of this host. */
  private async exchange(url: URL, host: string, app: string, clientAddr: string): Promise<Answer> {
    const token = url.searchParams.get("token") ?? "";
    const again = { href: launchUrl(this.o.proxyPublicAddr, app, safeAppPath(url.searchParams.get("path"))), text: `Open ${app} again` };
    if (token === "") return page(400, "Cannot open this app", "this link has no launch token", { link: again });
    let s: AppSession;
    try {
      s = await this.o.auth.authenticateAppSession({ launchToken: token });
    } catch (e) {
      if (!isJumpgateError(e) || e.kind === "internal") throw e;
      const status = e.kind === "connection-problem" ? 502 : 403;
      return page(status, "Cannot open this app", e.message, { link: again });
    }
    if (hostOf(s.publicAddr) !== host || s.appName !== app) {
      const reason = `this app session is for ${hostOf(s.publicAddr) || s.appName}, not ${host}`;
      this.refused({ ...(s.user ? { user: s.user } : {}), app, clientAddr, reason });
      return page(403, "Access denied", reason);
    }
    const expires = new Date(Date.parse(s.expires) || this.o.clock.now().getTime());
    return redirect(303, safeAppPath(url.searchParams.get("path")), appSessionCookie(s.cookie, expires, this.o.clock.now()));
  }

  /** `APP_LOGOUT_PATH`: ends the app session and clears its cookie. */
  private async logout(cookie: string | undefined, app: string): Promise<Answer> {
    if (cookie !== undefined) {
      const s = await this.sessions.resolve(cookie).catch(() => undefined);
      if (s) this.pool.drop(s.id);
      await this.sessions.delete(cookie).catch((e: unknown) => {
        if (!isJumpgateError(e) || !DEAD_SESSION.has(e.kind)) this.o.log.warn({ err: String(e) }, "app proxy: cannot delete an app session");
      });
    }
    return page(200, "Signed out", `You signed out of ${app}.`, {
      link: { href: `${appOrigin(this.o.proxyPublicAddr, this.o.proxyPublicAddr)}/web/`, text: "Back to Jumpgate" },
      setCookie: clearedAppSessionCookie(),
    });
  }

  private refused(r: AppRefusal): void {
    this.o.log.info({ ...r }, "app request refused");
    try {
      this.o.onRefused?.(r);
    } catch {
      // auditing a refusal never breaks the refusal
    }
  }
}
