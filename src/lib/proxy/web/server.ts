import type { IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import type { Logger } from "pino";
import type { AuthClient } from "../../../api/authclient.ts";
import { type Clock, systemClock } from "../../../api/clock.ts";
import { isJumpgateError, notFound } from "../../../api/errors.ts";
import { LAUNCH_PATH, launchApp } from "../appproxy/index.ts";
import type { AuthedRoute } from "./context.ts";
import { sendError } from "./http.ts";
import { fallbackPages, type PublicRoute, publicRoutes } from "./public-routes.ts";
import { dataRoutes, errorPosition } from "./routes/index.ts";
import { clearedCookie, isStateChanging, readSessionCookie, requireCsrf, requireOrigin, WebSessions } from "./session.ts";
import { currentSession, signIn, signOut } from "./session-routes.ts";
import { staticUi } from "./static.ts";
import { type SshEntry, TerminalSockets } from "./terminal.ts";

export interface WebDeps {
  /** Auth API client with the proxy's own identity. */
  auth: AuthClient;
  log: Logger;
  /** host:port users reach the proxy at. */
  publicAddr: string;
  /** host:port of the Auth API, for the per-user clients of web sessions. */
  authAddr: string;
  /** The proxy's SSH front door: web terminals enter it as `jsh ssh` does. */
  sshProxy?: SshEntry;
  /** Idle expiry of new web sessions; default Auth's (30 min). */
  idleTimeoutMs?: number;
  /** The built UI; default web/dist at the repository root. */
  distDir?: string;
  clock?: Clock;
}

export interface WebServer {
  handle(req: IncomingMessage, res: ServerResponse): void;
  /** The HTTP server's "upgrade" event: the WebSocket routes. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  close(): void;
}

const match = (routes: PublicRoute[], method: string, path: string) => {
  for (const [m, re, fn] of routes) {
    const found = re.exec(path);
    if (found && m === method) return { fn, params: found.slice(1) };
  }
  return undefined;
};

/**
 * The proxy's web side, in order: the public API (no session), the session
 * routes, the routes that need a session (cookie + CSRF, see session.ts), and
 * the built UI (or, without one, the server-rendered fallback pages).
 */
export function createWebServer(deps: WebDeps): WebServer {
  const clock = deps.clock ?? systemClock;
  const sessions = new WebSessions({
    auth: deps.auth,
    authAddr: deps.authAddr,
    clock,
    log: deps.log,
    ...(deps.idleTimeoutMs === undefined ? {} : { idleTimeoutMs: deps.idleTimeoutMs }),
  });
  const routeDeps = { auth: deps.auth, log: deps.log, publicAddr: deps.publicAddr };
  const open = publicRoutes(routeDeps);
  const pages = fallbackPages(routeDeps);
  const authed: AuthedRoute[] = dataRoutes(routeDeps);
  const ui = staticUi(deps.distDir);
  const terminals = new TerminalSockets({ sessions, publicAddr: deps.publicAddr, log: deps.log, clock, ...(deps.sshProxy ? { sshProxy: deps.sshProxy } : {}) });

  const dispatch = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    const method = req.method ?? "GET";
    const path = url.pathname;
    const pub = match(open, method, path);
    if (pub) {
      // No session here: a browser's cross-site form or fetch is refused by its Origin.
      if (isStateChanging(method)) requireOrigin(req, deps.publicAddr);
      return pub.fn(req, res, pub.params);
    }
    const launch = method === "GET" ? LAUNCH_PATH.exec(path) : null;
    if (launch) {
      // A navigation to the user's own app: the cookie suffices (no CSRF token); without a session, sign in first.
      const cookie = readSessionCookie(req);
      const dead = (e: unknown) => (isJumpgateError(e, "unauthenticated") ? undefined : Promise.reject(e));
      const who = cookie ? await sessions.resolve(cookie).catch(dead) : undefined;
      if (cookie && !who) res.setHeader("set-cookie", clearedCookie());
      const here = `${url.pathname}${url.search}`;
      return launchApp(res, { app: launch[1] ?? "", path: url.searchParams.get("path"), here, proxyPublicAddr: deps.publicAddr, client: who?.user.client });
    }
    if (path === "/webapi/sessions" && method === "POST") {
      requireOrigin(req, deps.publicAddr);
      return signIn(sessions, req, res);
    }
    if (path === "/webapi/sessions/current") {
      if (method === "GET") return currentSession(sessions, req, res);
      if (method === "DELETE") return signOut(sessions, req, res);
    }
    for (const r of authed) {
      const m = r.path.exec(path);
      if (!m || r.method !== method) continue;
      const { user, session } = await sessions.resolve(readSessionCookie(req));
      requireCsrf(req, session.csrfToken);
      return r.handler(req, res, { user, params: m.slice(1), url });
    }
    if (method === "GET" || method === "HEAD") {
      if (ui.available()) {
        if (ui.serve(req, res, path, deps.publicAddr)) return;
      } else {
        const page = match(pages, "GET", path);
        if (page) return page.fn(req, res, page.params);
      }
    }
    throw notFound(`no such page: ${method} ${path}`);
  };

  return {
    handle(req, res) {
      const url = new URL(req.url ?? "/", "https://proxy");
      dispatch(req, res, url).catch((e: unknown) => {
        // A dead cookie is cleared, so the browser stops sending it.
        if (isJumpgateError(e, "unauthenticated") && readSessionCookie(req) && !res.headersSent) res.setHeader("set-cookie", clearedCookie());
        const j = sendError(res, e, errorPosition(e));
        if (j.kind === "internal") deps.log.error({ err: e, path: url.pathname }, "web API error");
      });
    },
    upgrade: (req, socket, head) => terminals.upgrade(req, socket, head),
    close() {
      terminals.close();
      sessions.close();
    },
  };
}
