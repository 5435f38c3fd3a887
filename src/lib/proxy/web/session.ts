/**
 * The proxy's side of web sessions (docs/web-api.md): the cookie, the CSRF
 * and Origin checks, and a short cache of what Auth said about each cookie,
 * with one Auth client per session acting as its user.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { Logger } from "pino";
import { type AuthClient, createAuthClient } from "../../../api/authclient.ts";
import type { Clock } from "../../../api/clock.ts";
import { accessDenied, isJumpgateError, unauthenticated } from "../../../api/errors.ts";
import type { WebSession } from "../../../api/gen/jumpgate/v1/auth_pb.ts";
import type { WebUser } from "./context.ts";

export const SESSION_COOKIE = "__Host-jumpgate_session";
export const CSRF_HEADER = "x-csrf-token";
const COOKIE_ATTRS = "Path=/; HttpOnly; Secure; SameSite=Strict";
const STATE_CHANGING = new Set(["POST", "PUT", "PATCH", "DELETE"]);
/** How long Auth's answer about a cookie is trusted before asking again. */
export const AUTH_CACHE_MS = 5_000;
/** Sessions unused this long lose their cached Auth client (it is made again on use). */
const IDLE_CLIENT_MS = 5 * 60_000;
const MAX_CACHED = 10_000;

export const sessionCookie = (value: string) => `${SESSION_COOKIE}=${value}; ${COOKIE_ATTRS}`;
export const clearedCookie = () => `${SESSION_COOKIE}=; ${COOKIE_ATTRS}; Max-Age=0`;

export function isStateChanging(method: string | undefined): boolean {
  return STATE_CHANGING.has(method ?? "");
}

/** The session cookie's value, or undefined. */
export function readSessionCookie(req: IncomingMessage): string | undefined {
  const header = req.headers.cookie ?? "";
  for (const part of header.split(";")) {
    const i = part.indexOf("=");
    if (i > 0 && part.slice(0, i).trim() === SESSION_COOKIE) {
      const v = part.slice(i + 1).trim();
      return v === "" ? undefined : v;
    }
  }
  return undefined;
}

/** `https://HOST[:PORT]` as a browser writes it in `Origin` (no :443). */
export function originOf(hostPort: string): string {
  return `https://${hostPort.replace(/:443$/, "")}`.toLowerCase();
}

/**
 * A browser's `Origin` must be this proxy: its public address, or the host the
 * browser asked for (same origin). The cookie is scoped to the proxy's host,
 * so a page elsewhere never gets both a matching Host and the cookie.
 */
export function originAllowed(req: IncomingMessage, publicAddr: string): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  const o = origin.toLowerCase();
  const host = req.headers.host;
  return o === originOf(publicAddr) || (host !== undefined && o === originOf(host));
}

export function requireOrigin(req: IncomingMessage, publicAddr: string): void {
  if (!originAllowed(req, publicAddr)) throw accessDenied("request refused: it comes from another site (Origin does not match this proxy)");
}

/** State-changing requests made with the cookie must carry the session's CSRF token. */
export function requireCsrf(req: IncomingMessage, csrfToken: string): void {
  if (!isStateChanging(req.method)) return;
  const sent = req.headers[CSRF_HEADER];
  const a = Buffer.from(typeof sent === "string" ? sent : "");
  const b = Buffer.from(csrfToken);
  if (a.length !== b.length || b.length === 0 || !timingSafeEqual(a, b)) throw accessDenied("missing or invalid CSRF token");
}

/** What a cookie resolved to. */
export interface ResolvedSession {
  user: WebUser;
  session: WebSession;
}

interface Entry extends ResolvedSession {
  /** When Auth's answer must be asked for again. */
  freshUntil: number;
  lastUsed: number;
  /** Terminals and other long-lived users of the session, ended with it. */
  enders: Set<(reason: string) => void>;
}

export interface WebSessionsOptions {
  /** Auth's proxy-identity client (creates, resolves and deletes sessions). */
  auth: AuthClient;
  /** host:port the per-user Auth clients dial. */
  authAddr: string;
  clock: Clock;
  log: Logger;
  /** Idle expiry asked of Auth for new sessions (0: Auth's default). */
  idleTimeoutMs?: number;
  cacheMs?: number;
}

export class WebSessions {
  private readonly entries = new Map<string, Entry>();
  private readonly pending = new Map<string, Promise<Entry>>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly o: WebSessionsOptions) {
    this.sweeper = setInterval(() => this.sweep(), 30_000);
    this.sweeper.unref();
  }

  async signIn(req: { user: string; password: string; otp: string; clientAddr: string }): Promise<{ cookie: string; session: WebSession }> {
    const idle = this.o.idleTimeoutMs ?? 0;
    const session = await this.o.auth.createWebSession({ ...req, idleTimeoutSeconds: BigInt(Math.ceil(idle / 1000)) });
    return { cookie: session.cookie, session };
  }

  /** Resolves a cookie; unauthenticated when there is none or Auth no longer knows it. */
  async resolve(cookie: string | undefined): Promise<ResolvedSession> {
    if (!cookie) throw unauthenticated("sign in first");
    const key = hashOf(cookie);
    const now = this.o.clock.now().getTime();
    const hit = this.entries.get(key);
    if (hit && now < hit.freshUntil) {
      hit.lastUsed = now;
      return hit;
    }
    let p = this.pending.get(key);
    if (!p) {
      p = this.fetch(key, cookie).finally(() => this.pending.delete(key));
      this.pending.set(key, p);
    }
    return p;
  }

  /** Runs `onEnd` when the session ends (sign-out, expiry, lock); returns the way to unsubscribe. */
  onEnd(cookie: string, onEnd: (reason: string) => void): () => void {
    const e = this.entries.get(hashOf(cookie));
    if (!e) return () => undefined;
    e.enders.add(onEnd);
    return () => e.enders.delete(onEnd);
  }

  async signOut(cookie: string, clientAddr: string): Promise<void> {
    await this.o.auth.deleteWebSession({ cookie, clientAddr });
    this.end(hashOf(cookie), "you signed out");
  }

  close(): void {
    clearInterval(this.sweeper);
    for (const key of [...this.entries.keys()]) this.end(key, "the proxy is shutting down");
  }

  private async fetch(key: string, cookie: string): Promise<Entry> {
    let session: WebSession;
    try {
      session = await this.o.auth.authenticateWebSession({ cookie });
    } catch (e) {
      if (isJumpgateError(e, "unauthenticated")) this.end(key, e.message);
      throw e;
    }
    const now = this.o.clock.now().getTime();
    // Never trust the cache past the session's own expiry.
    const freshUntil = Math.min(now + (this.o.cacheMs ?? AUTH_CACHE_MS), Date.parse(session.idleExpires), Date.parse(session.expires));
    const old = this.entries.get(key);
    if (old && old.session.id === session.id) {
      old.session = session;
      old.freshUntil = freshUntil;
      old.lastUsed = now;
      old.user.roles = session.roles;
      old.user.logins = session.logins;
      return old;
    }
    if (this.entries.size >= MAX_CACHED) this.sweep(true);
    const client = createAuthClient({
      addr: this.o.authAddr,
      identity: { key: session.tlsPrivateKey, cert: session.tlsCert, cas: session.hostCaCerts },
    });
    const user: WebUser = {
      user: session.user,
      roles: session.roles,
      logins: session.logins,
      sessionId: session.id,
      client,
      ssh: { cert: session.sshCert, privateKey: session.sshPrivateKey },
    };
    const entry: Entry = { user, session, freshUntil, lastUsed: now, enders: new Set() };
    this.entries.set(key, entry);
    return entry;
  }

  private end(key: string, reason: string): void {
    const e = this.entries.get(key);
    if (!e) return;
    this.entries.delete(key);
    for (const f of e.enders) {
      try {
        f(reason);
      } catch (err) {
        this.o.log.warn({ err: String(err) }, "web session end handler failed");
      }
    }
    e.user.client.close();
  }

  /** Drops idle or expired entries (closing their Auth clients); `hard` also drops busy ones when full. */
  private sweep(hard = false): void {
    const now = this.o.clock.now().getTime();
    for (const [key, e] of this.entries) {
      const expired = now >= Date.parse(e.session.expires);
      const unused = now - e.lastUsed > IDLE_CLIENT_MS && e.enders.size === 0;
      if (expired) this.end(key, "your session has expired, sign in again");
      else if (unused || (hard && e.enders.size === 0)) {
        this.entries.delete(key);
        e.user.client.close();
      }
    }
  }
}

const hashOf = (cookie: string) => createHash("sha256").update(cookie).digest("hex");
