import { randomUUID } from "node:crypto";
import type { Duplex } from "node:stream";
import type { Logger } from "pino";
import { APP_DIAL_PREFIX, type AppConnHeader } from "../../../api/appwire.ts";
import type { Clock } from "../../../api/clock.ts";
import { accessDenied, isJumpgateError } from "../../../api/errors.ts";
import type { Role } from "../../../api/resources/index.ts";
import { type Identity, VerifiedIdentityCache } from "../../crypto/index.ts";
import { AccessChecker } from "../../rbac/index.ts";
import { clientIp, readAppHeader } from "./codec.ts";
import { HttpApps, type HttpStreamContext } from "./http.ts";
import { expandRewriteHeaders } from "./rewrite.ts";
import { type AppSessionInfo, AppSessions } from "./sessions.ts";
import type { AppTarget } from "./targets.ts";
import { connectTcp, relay } from "./tcp.ts";
import { AppTokenCache, type AppTokenSource } from "./tokens.ts";

type AuditEvent = Record<string, unknown> & { event: string };

export interface ApplicationServiceOptions {
  /** This service's host id and name (audit, `app_server` entries). */
  hostId: string;
  nodeName: string;
  /** The apps served right now (configured plus matched `app` resources). */
  apps(): AppTarget[];
  /** User CA certificates (PEM): the only trust anchors for client certificates. */
  userCas(): string[];
  /** The user's *current* roles and traits from Auth; undefined when the user no longer exists. */
  getUser(name: string): Promise<{ roles: string[]; traits: Record<string, string[]> } | undefined>;
  getRole(name: string): Promise<Role | undefined>;
  /** A lock in force on the user or one of the roles: its message; undefined when none. */
  lockedBy(who: { user: string; roles: string[] }): Promise<string | undefined>;
  /** The `jumpgate-jwt-assertion` token, signed by Auth (GenerateAppToken). Cached here per app session. */
  appToken: AppTokenSource;
  /** Queues an audit event (disk-backed); never throws. */
  audit(e: AuditEvent): void;
  /** `app.session.request` per HTTP request (`app_service.audit_requests`); default true. */
  auditRequests?: boolean;
  clock: Clock;
  log: Logger;
  /** How long the proxy may take to send the stream header; default 10 s. */
  headerTimeoutMs?: number;
  /** How long an app session stays open after its last stream closed; default 30 s. */
  sessionLingerMs?: number;
  /** Deadline to connect to an app; default 10 s. */
  connectTimeoutMs?: number;
  /** A stream's access decision is taken again before a request once it is this old; default 1 s. */
  recheckMs?: number;
}

/** The user a stream was accepted for, and how to check again later. */
interface Admitted {
  identity: Identity;
  user: { roles: string[]; traits: Record<string, string[]> };
}

const WARN_BURST = 20;
const WARN_WINDOW_MS = 60_000;

/**
 * The Application Service's side of a stream (DESIGN §6): reads the header the
 * proxy sends first (`api/appwire.ts`), verifies the user certificate in it
 * against the user CA itself — expiry, its route to this app, the user's
 * current roles (`app_labels`) and locks — then serves the client's bytes:
 * HTTP requests forwarded with the signed identity, or a TCP relay. A refusal
 * reaches a browser as a 403 page; a TCP client sees the stream close.
 */
export class ApplicationService {
  private readonly active = new Set<Duplex>();
  private closed = false;
  private readonly verified = new VerifiedIdentityCache();
  private readonly tokens: AppTokenCache;
  private readonly sessions: AppSessions;
  private readonly http: HttpApps;
  private warned = { at: 0, count: 0 };

  constructor(private readonly o: ApplicationServiceOptions) {
    this.tokens = new AppTokenCache(o.appToken, o.clock);
    this.sessions = new AppSessions({
      lingerMs: o.sessionLingerMs ?? 30_000,
      started: (s) => this.emit({ event: "app.session.start", ...sessionFields(s), addr_remote: s.clientAddr, success: true }),
      ended: (s) => {
        this.tokens.forget(s.sid);
        this.emit({ event: "app.session.end", ...sessionFields(s) });
      },
    });
    this.http = new HttpApps({
      tokens: this.tokens,
      ...(o.auditRequests === false ? {} : { requestEvent: (e: AuditEvent) => this.emit(e) }),
      ...(o.connectTimeoutMs !== undefined ? { connectTimeoutMs: o.connectTimeoutMs } : {}),
      log: o.log,
    });
  }

  /** Streams in progress (renewal waits for none). */
  activeSessions(): number {
    return this.active.size;
  }

  /** One stream from the proxy: a reverse-tunnel dial with target `app:NAME` (or a direct connection). */
  async handleConnection(stream: Duplex, info: { clientAddr: string; target?: string }): Promise<void> {
    if (this.closed) {
      stream.destroy();
      return;
    }
    this.active.add(stream);
    stream.once("close", () => this.active.delete(stream));
    stream.on("error", () => stream.destroy());
    const wanted = info.target?.startsWith(APP_DIAL_PREFIX) ? info.target.slice(APP_DIAL_PREFIX.length) : undefined;
    let header: AppConnHeader;
    try {
      header = await readAppHeader(stream, this.o.headerTimeoutMs ?? 10_000);
    } catch (e) {
      this.warn({ clientAddr: info.clientAddr, err: isJumpgateError(e) ? e.message : String(e) }, "app stream without a valid header");
      stream.destroy();
      return;
    }
    const clientAddr = header.clientAddr || info.clientAddr;
    const app = this.o.apps().find((a) => a.name === header.app);
    let identity: Identity | undefined;
    let admitted: Admitted;
    try {
      if (wanted !== undefined && wanted !== header.app) throw accessDenied(`the proxy routed a stream for app ${header.app} to ${wanted}`);
      if (!app) throw accessDenied(`app ${header.app} is not served by ${this.o.nodeName}`);
      identity = this.verify(header.cert);
      const route = identity.routeToApp;
      if (!route || route.name !== app.name) {
        throw accessDenied(`this certificate is for app ${route?.name || "(none)"}, not ${app.name}: run jsh apps login ${app.name}`);
      }
      admitted = await this.authorize(identity, app);
    } catch (e) {
      const reason = isJumpgateError(e) ? e.message : "internal error";
      if (!isJumpgateError(e)) this.o.log.error({ err: String(e) }, "app stream failed");
      this.emit({
        event: "app.session.start",
        success: false,
        error: reason,
        sid: identity?.routeToApp?.sessionId || randomUUID(),
        ...(identity ? { user: identity.username } : {}),
        app_name: header.app,
        ...(app ? { app_uri: app.uri } : {}),
        addr_remote: clientAddr,
      });
      this.refuse(stream, header, app, clientAddr, reason);
      return;
    }
    if (this.closed) {
      stream.destroy();
      return;
    }
    if (app.kind === "tcp") await this.serveTcp(stream, app, admitted, header, clientAddr);
    else this.serveHttp(stream, app, admitted, header, clientAddr);
  }

  /** Stops taking streams, closes those in progress and ends every app session. */
  close(): void {
    this.closed = true;
    this.http.close();
    for (const s of this.active) s.destroy();
    this.sessions.endAll();
  }

  /** Drops upstream connection pools of apps no longer served (call after the list changed). */
  pruneApps(): void {
    this.http.prune(this.o.apps());
  }

  private serveHttp(stream: Duplex, app: AppTarget, a: Admitted, header: AppConnHeader, clientAddr: string): void {
    const { identity, user } = a;
    const sid = identity.routeToApp?.sessionId || randomUUID();
    const publicAddr = header.publicAddr;
    const release = this.sessions.open({
      sid,
      user: identity.username,
      appName: app.name,
      appUri: app.uri,
      publicAddr: publicAddr || app.publicAddr,
      clientAddr,
    });
    stream.once("close", release);
    let checkedAt = performance.now();
    const recheckMs = this.o.recheckMs ?? 1_000;
    const ctx: HttpStreamContext = {
      app,
      sid,
      user: identity.username,
      clientAddr: clientIp(clientAddr),
      publicAddr,
      token: { username: identity.username, roles: user.roles, traits: user.traits, uri: app.uri },
      rewrite: expandRewriteHeaders(app.rewriteHeaders, user.traits),
      recheck: async () => {
        if (this.o.clock.now().getTime() >= identity.expires.getTime()) {
          throw accessDenied(`your session for app ${app.name} has expired: log in to it again`);
        }
        if (performance.now() - checkedAt < recheckMs) return;
        const current = this.o.apps().find((x) => x.name === app.name);
        if (!current) throw accessDenied(`app ${app.name} is no longer served by ${this.o.nodeName}`);
        await this.authorize(identity, current);
        checkedAt = performance.now();
      },
    };
    this.http.serve(stream, ctx);
  }

  private async serveTcp(stream: Duplex, app: AppTarget, a: Admitted, header: AppConnHeader, clientAddr: string): Promise<void> {
    const { identity } = a;
    const info: AppSessionInfo = {
      sid: randomUUID(),
      user: identity.username,
      appName: app.name,
      appUri: app.uri,
      publicAddr: header.publicAddr || app.publicAddr,
      clientAddr,
    };
    const appSession = identity.routeToApp?.sessionId ?? "";
    let upstream: Awaited<ReturnType<typeof connectTcp>>;
    try {
      upstream = await connectTcp(app.uri, this.o.connectTimeoutMs ?? 10_000);
    } catch (e) {
      const reason = isJumpgateError(e) ? e.message : String(e);
      this.o.log.warn({ app: app.name, err: reason }, "cannot connect to a TCP app");
      this.emit({ event: "app.session.start", ...sessionFields(info), app_session_id: appSession, addr_remote: clientAddr, success: false, error: reason });
      stream.destroy();
      return;
    }
    if (this.closed || stream.destroyed) {
      upstream.destroy();
      stream.destroy();
      return;
    }
    this.emit({ event: "app.session.start", ...sessionFields(info), app_session_id: appSession, addr_remote: clientAddr, success: true });
    const r = await relay(stream, upstream);
    this.emit({ event: "app.session.end", ...sessionFields(info), app_session_id: appSession, bytes_in: r.bytesIn, bytes_out: r.bytesOut });
  }

  private refuse(stream: Duplex, header: AppConnHeader, app: AppTarget | undefined, clientAddr: string, reason: string): void {
    // A browser (or curl through jsh proxy app) reads the reason on a page; a TCP client just sees the close.
    const http = app ? app.kind === "http" : header.publicAddr !== "";
    if (!http || this.closed) {
      stream.destroy();
      return;
    }
    this.http.serve(stream, {
      app: app ?? {
        name: header.app,
        uri: "http://invalid",
        kind: "http",
        publicAddr: "",
        labels: {},
        insecureSkipVerify: false,
        rewriteHeaders: [],
        rewriteRedirect: [],
      },
      sid: "",
      user: "",
      clientAddr: clientIp(clientAddr),
      publicAddr: header.publicAddr,
      refused: reason,
    });
  }

  private verify(pem: string): Identity {
    // The first certificate of the chain is the user's; the user CA signs it directly.
    const leaf = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/.exec(pem)?.[0];
    if (!leaf) throw accessDenied("no client certificate");
    let id: Identity;
    try {
      id = this.verified.verify(leaf, this.o.userCas(), this.o.clock);
    } catch (e) {
      throw accessDenied(`client certificate refused: ${isJumpgateError(e) ? e.message : "invalid certificate"}`);
    }
    if (id.kind === "host") throw accessDenied("a host certificate cannot open app sessions");
    return id;
  }

  /** The user's current roles allow the app and no lock is in force. */
  private async authorize(identity: Identity, app: AppTarget): Promise<Admitted> {
    const user = await this.o.getUser(identity.username);
    if (!user) throw accessDenied(`user ${identity.username} does not exist`);
    const lock = await this.o.lockedBy({ user: identity.username, roles: user.roles });
    if (lock) throw accessDenied(lock);
    const roles = (await Promise.all(user.roles.map((name) => this.o.getRole(name)))).filter((r): r is Role => r !== undefined);
    const d = new AccessChecker(roles, user.traits).checkAppAccess({ labels: app.labels });
    if (!d.allowed) throw accessDenied(`access to app ${app.name} denied: ${d.reason}`);
    return { identity, user };
  }

  private emit(e: AuditEvent): void {
    try {
      this.o.audit({ ...e, server_id: this.o.hostId, server_hostname: this.o.nodeName });
    } catch (err) {
      this.o.log.warn({ err: String(err) }, "cannot queue an audit event");
    }
  }

  /** Log lines about misbehaving peers, at most a burst per minute. */
  private warn(fields: Record<string, unknown>, msg: string): void {
    const now = performance.now();
    if (now - this.warned.at > WARN_WINDOW_MS) this.warned = { at: now, count: 0 };
    if (++this.warned.count <= WARN_BURST) this.o.log.warn(fields, msg);
  }
}

function sessionFields(s: AppSessionInfo): Record<string, unknown> {
  return { sid: s.sid, user: s.user, app_name: s.appName, app_uri: s.appUri, app_public_addr: s.publicAddr };
}
