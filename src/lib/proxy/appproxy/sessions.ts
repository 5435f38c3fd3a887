/**
 * What Auth said about each app-session cookie, trusted for a few seconds
 * (as WebSessions does for web sessions): every request of a busy page does
 * not become an Auth call, and a deleted or expired session is refused at
 * most `cacheMs` later. Entries are keyed by a hash of the cookie, never by
 * the cookie itself.
 */
import { createHash } from "node:crypto";
import type { AuthClient } from "../../../api/authclient.ts";
import type { Clock } from "../../../api/clock.ts";
import type { AppSession } from "../../../api/gen/jumpgate/v1/auth_pb.ts";

export const APP_SESSION_CACHE_MS = 5_000;
const MAX_ENTRIES = 10_000;

export type AppSessionAuth = Pick<AuthClient, "authenticateAppSession" | "deleteAppSession">;

interface Entry {
  session: AppSession;
  freshUntil: number;
}

export const cookieKey = (cookie: string) => createHash("sha256").update(cookie).digest("base64url");

export class AppSessionCache {
  private readonly entries = new Map<string, Entry>();
  private readonly pending = new Map<string, Promise<AppSession>>();

  constructor(private readonly o: { auth: AppSessionAuth; clock: Clock; cacheMs?: number }) {}

  /** The session behind `cookie`; rejects with Auth's error (not-found/unauthenticated when unknown or expired). */
  resolve(cookie: string): Promise<AppSession> {
    const key = cookieKey(cookie);
    const now = this.o.clock.now().getTime();
    const hit = this.entries.get(key);
    if (hit && now < hit.freshUntil) return Promise.resolve(hit.session);
    let p = this.pending.get(key);
    if (!p) {
      p = this.fetch(key, cookie).finally(() => this.pending.delete(key));
      this.pending.set(key, p);
    }
    return p;
  }

  /** Ends the session in Auth and here. */
  async delete(cookie: string): Promise<void> {
    this.forget(cookie);
    await this.o.auth.deleteAppSession({ cookie });
  }

  forget(cookie: string): void {
    this.entries.delete(cookieKey(cookie));
  }

  private async fetch(key: string, cookie: string): Promise<AppSession> {
    let session: AppSession;
    try {
      session = await this.o.auth.authenticateAppSession({ cookie });
    } catch (e) {
      this.entries.delete(key);
      throw e;
    }
    const now = this.o.clock.now().getTime();
    const expires = Date.parse(session.expires);
    const freshUntil = Math.min(now + (this.o.cacheMs ?? APP_SESSION_CACHE_MS), Number.isNaN(expires) ? now : expires);
    if (this.entries.size >= MAX_ENTRIES) this.sweep(now);
    if (this.entries.size >= MAX_ENTRIES) this.entries.clear();
    this.entries.set(key, { session, freshUntil });
    return session;
  }

  private sweep(now: number): void {
    for (const [k, e] of this.entries) if (e.freshUntil <= now) this.entries.delete(k);
  }
}
