/**
 * HTTP apps: each verified stream is handed to one node `http.Server` (no
 * listener; `emit("connection")`), which parses the client's requests —
 * several per stream with keep-alive, WebSocket upgrades too — and forwards
 * them with `HttpForwarder`, bodies streamed both ways without limit.
 */
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import type { Logger } from "pino";
import { isJumpgateError } from "../../../api/errors.ts";
import { errorPage, type ForwardRequestOptions, HttpForwarder, locationRewriter, StreamSocket, sendErrorPage } from "../../httpfwd/index.ts";
import { requestPath } from "./codec.ts";
import { type ExpandedHeader, editRequestHeaders } from "./rewrite.ts";
import type { AppTarget } from "./targets.ts";
import type { AppTokenCache, AppTokenRequest } from "./tokens.ts";

/** What the service decided about one stream, for every request on it. */
export interface HttpStreamContext {
  app: AppTarget;
  /** The app session (audit `sid`, token cache key). */
  sid: string;
  user: string;
  clientAddr: string;
  /** The host the user reached the app at; empty for `jsh proxy app`. */
  publicAddr: string;
  /** Set when the stream was refused: every request on it gets a 403 page saying this. */
  refused?: string;
  /** For the app token: the user's current roles and traits. */
  token?: AppTokenRequest;
  /** `rewrite.headers` expanded for this user. */
  rewrite?: ExpandedHeader[];
  /** Checks again before a request (certificate expiry, locks, roles); throws access-denied. */
  recheck?: () => Promise<void>;
}

export interface HttpAppsOptions {
  tokens: AppTokenCache;
  /** `app.session.request` events; absent when `audit_requests` is off. */
  requestEvent?: (e: Record<string, unknown> & { event: string }) => void;
  /** How long an idle keep-alive stream stays open between requests. */
  keepAliveMs?: number;
  connectTimeoutMs?: number;
  log: Logger;
}

const REFUSED_IDLE_MS = 15_000;

export class HttpApps {
  private readonly server: http.Server;
  private readonly contexts = new WeakMap<object, HttpStreamContext>();
  private readonly sockets = new Set<StreamSocket>();
  private readonly forwarders = new Map<string, { key: string; fwd: HttpForwarder }>();

  constructor(private readonly o: HttpAppsOptions) {
    // No request deadline: uploads, downloads and event streams run as long as they need.
    this.server = http.createServer({ requestTimeout: 0 }, (req, res) => {
      void this.onRequest(req, res).catch((e: unknown) => {
        this.o.log.error({ err: String(e) }, "app request failed");
        res.destroy();
      });
    });
    this.server.keepAliveTimeout = o.keepAliveMs ?? 60_000;
    this.server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      void this.onUpgrade(req, socket, head).catch((e: unknown) => {
        this.o.log.error({ err: String(e) }, "app upgrade failed");
        socket.destroy();
      });
    });
  }

  /** Serves the client's HTTP on a stream whose header has been read (what follows it is put back). */
  serve(stream: Duplex, ctx: HttpStreamContext): void {
    const sock = new StreamSocket(stream, ctx.clientAddr);
    // A client that goes away is no error of ours (and after an upgrade node's own listener is gone).
    sock.on("error", () => sock.destroy());
    this.contexts.set(sock, ctx);
    this.sockets.add(sock);
    sock.once("close", () => this.sockets.delete(sock));
    if (ctx.refused !== undefined) sock.setTimeout(REFUSED_IDLE_MS);
    this.server.emit("connection", sock);
  }

  /** Closes every stream and upstream connection. */
  close(): void {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    for (const f of this.forwarders.values()) f.fwd.close();
    this.forwarders.clear();
    this.server.close();
  }

  /** Drops the upstream pools of apps no longer served. */
  prune(served: readonly AppTarget[]): void {
    const names = new Set(served.map((a) => a.name));
    for (const [name, f] of this.forwarders) {
      if (!names.has(name)) {
        f.fwd.close();
        this.forwarders.delete(name);
      }
    }
  }

  private forwarder(app: AppTarget): HttpForwarder {
    const key = `${app.uri}\n${app.insecureSkipVerify}`;
    const cur = this.forwarders.get(app.name);
    if (cur?.key === key) return cur.fwd;
    cur?.fwd.close();
    const fwd = new HttpForwarder({
      url: app.uri,
      tls: { insecureSkipVerify: app.insecureSkipVerify },
      ...(this.o.connectTimeoutMs !== undefined ? { connectTimeoutMs: this.o.connectTimeoutMs } : {}),
    });
    this.forwarders.set(app.name, { key, fwd });
    return fwd;
  }

  /** The request may go on: the stream was accepted and the user still may. Else the reason. */
  private async admit(ctx: HttpStreamContext): Promise<string | undefined> {
    if (ctx.refused !== undefined) return ctx.refused;
    try {
      await ctx.recheck?.();
      return undefined;
    } catch (e) {
      return isJumpgateError(e) ? e.message : "access denied";
    }
  }

  private async token(ctx: HttpStreamContext): Promise<string> {
    if (!ctx.token) throw new Error("no token request for this stream");
    return this.o.tokens.get(ctx.sid, ctx.token);
  }

  private options(ctx: HttpStreamContext, token: string): ForwardRequestOptions {
    const app = ctx.app;
    const rewrite = ctx.rewrite ?? [];
    const o: ForwardRequestOptions = {
      clientAddr: ctx.clientAddr,
      // The user reached the proxy over TLS, whatever carried the stream here.
      proto: "https",
      requestHeaders: (h) => editRequestHeaders(h, token, rewrite),
    };
    if (ctx.publicAddr !== "") {
      o.host = ctx.publicAddr;
      const own = new URL(app.uri).host;
      o.rewriteLocation = locationRewriter({ publicBase: `https://${ctx.publicAddr}`, hosts: [own, ...app.rewriteRedirect] });
    }
    return o;
  }

  private audit(ctx: HttpStreamContext, req: IncomingMessage, status: number, started: number): void {
    this.o.requestEvent?.({
      event: "app.session.request",
      sid: ctx.sid,
      user: ctx.user,
      app_name: ctx.app.name,
      method: req.method ?? "",
      path: requestPath(req.url),
      status,
      duration_ms: Math.round(performance.now() - started),
    });
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const ctx = this.contexts.get(req.socket);
    if (!ctx) {
      res.destroy();
      return;
    }
    const started = performance.now();
    const denied = await this.admit(ctx);
    if (denied !== undefined) {
      res.setHeader("connection", "close");
      sendErrorPage(res, 403, "Access denied", denied);
      if (ctx.refused === undefined) this.audit(ctx, req, 403, started);
      return;
    }
    let token: string;
    try {
      token = await this.token(ctx);
    } catch (e) {
      this.o.log.warn({ app: ctx.app.name, err: isJumpgateError(e) ? e.message : String(e) }, "cannot get an app token");
      sendErrorPage(res, 503, "App unavailable", `Jumpgate could not sign your identity for ${ctx.app.name}; try again in a moment.`);
      this.audit(ctx, req, 503, started);
      return;
    }
    if (res.destroyed) return;
    const outcome = await this.forwarder(ctx.app).forward(req, res, this.options(ctx, token));
    if (outcome.error) this.o.log.warn({ app: ctx.app.name, err: outcome.error.message }, "app request failed upstream");
    this.audit(ctx, req, outcome.status, started);
  }

  private async onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const ctx = this.contexts.get(socket);
    if (!ctx) {
      socket.destroy();
      return;
    }
    const started = performance.now();
    const denied = await this.admit(ctx);
    if (denied !== undefined) {
      rawPage(socket, 403, "Forbidden", errorPage(403, "Access denied", denied));
      if (ctx.refused === undefined) this.audit(ctx, req, 403, started);
      return;
    }
    let token: string;
    try {
      token = await this.token(ctx);
    } catch (e) {
      this.o.log.warn({ app: ctx.app.name, err: isJumpgateError(e) ? e.message : String(e) }, "cannot get an app token");
      rawPage(socket, 503, "Service Unavailable", errorPage(503, "App unavailable", `Jumpgate could not sign your identity for ${ctx.app.name}.`));
      this.audit(ctx, req, 503, started);
      return;
    }
    const outcome = await this.forwarder(ctx.app).upgrade(req, socket, head, this.options(ctx, token));
    this.audit(ctx, req, outcome.status, started);
  }
}

/** An answer written straight to a stream whose HTTP parser has let go (an upgrade), then closed. */
function rawPage(socket: Duplex, status: number, text: string, body: string): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  socket.end(
    `HTTP/1.1 ${status} ${text}\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\ncache-control: no-store\r\nconnection: close\r\n\r\n${body}`,
  );
}
