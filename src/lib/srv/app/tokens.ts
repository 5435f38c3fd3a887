/**
 * App tokens (`jumpgate-jwt-assertion`) kept per app session and app URI:
 * Auth signs one, and every request of the session reuses it until shortly
 * before it expires. Concurrent requests share one call; failures are not kept.
 */
import type { Clock } from "../../../api/clock.ts";

export interface AppTokenRequest {
  username: string;
  roles: string[];
  traits: Record<string, string[]>;
  /** The app's URI: the token's audience. */
  uri: string;
}

export interface AppToken {
  token: string;
  expires: Date;
}

export type AppTokenSource = (r: AppTokenRequest) => Promise<AppToken>;

/** Refresh this long before expiry (the app checks `exp`; clocks differ). */
const REFRESH_BEFORE_MS = 60_000;

interface Entry {
  sid: string;
  value: Promise<AppToken>;
  /** When to ask again; set once the token arrived. */
  refreshAt: number;
}

export class AppTokenCache {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly source: AppTokenSource,
    private readonly clock: Clock,
    private readonly maxEntries = 10_000,
  ) {}

  async get(sid: string, r: AppTokenRequest): Promise<string> {
    const key = `${sid}\n${r.uri}`;
    const now = this.clock.now().getTime();
    const hit = this.entries.get(key);
    if (hit && now < hit.refreshAt) return (await hit.value).token;
    if (this.entries.size >= this.maxEntries) this.entries.clear();
    const entry: Entry = { sid, value: this.source(r), refreshAt: Number.POSITIVE_INFINITY };
    this.entries.set(key, entry);
    try {
      const t = await entry.value;
      const left = t.expires.getTime() - now;
      // A short-lived token is reused for half its life at most.
      entry.refreshAt = now + Math.max(0, left - Math.min(REFRESH_BEFORE_MS, left / 2));
      return t.token;
    } catch (e) {
      if (this.entries.get(key) === entry) this.entries.delete(key);
      throw e;
    }
  }

  /** Forgets the tokens of a session that ended. */
  forget(sid: string): void {
    for (const [k, e] of this.entries) if (e.sid === sid) this.entries.delete(k);
  }

  get size(): number {
    return this.entries.size;
  }
}
