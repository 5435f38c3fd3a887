/** Options and defaults shared by the backends. */
import { type Clock, systemClock } from "../../api/clock.ts";
import { badParameter } from "../../api/errors.ts";

export interface CommonOptions {
  /** Time source for expiry decisions (default: the system clock). */
  clock?: Clock;
  /** How many past events are kept for watchers resuming from a revision (default 10 000). */
  historyLimit?: number;
  /** Period of the expiry sweeper in ms (default 1 000); 0 disables it (call sweepExpired()). */
  sweepIntervalMs?: number;
  /** Events a watcher may have unread before it is failed with "limit-exceeded" (default 50 000). */
  watcherBufferLimit?: number;
}

export const DEFAULTS = {
  historyLimit: 10_000,
  sweepIntervalMs: 1_000,
  watcherBufferLimit: 50_000,
  pollIntervalMs: 1_000,
} as const;

/**
 * Backends that keep expired items until a sweep. Reads never return expired
 * items; a sweep deletes them and emits their delete events (and trims the
 * event history). It runs on a timer; tests with a fake clock call it directly.
 */
export interface ExpirySweeper {
  sweepExpired(): Promise<number>;
}

export interface ResolvedOptions {
  clock: Clock;
  historyLimit: number;
  sweepIntervalMs: number;
  watcherBufferLimit: number;
}

export function resolveOptions(o: CommonOptions): ResolvedOptions {
  return {
    clock: o.clock ?? systemClock,
    historyLimit: count(o.historyLimit ?? DEFAULTS.historyLimit, "historyLimit", 1),
    sweepIntervalMs: count(o.sweepIntervalMs ?? DEFAULTS.sweepIntervalMs, "sweepIntervalMs", 0),
    watcherBufferLimit: count(o.watcherBufferLimit ?? DEFAULTS.watcherBufferLimit, "watcherBufferLimit", 1),
  };
}

export function count(n: number, what: string, min: number): number {
  if (!Number.isSafeInteger(n) || n < min) throw badParameter(`${what} must be an integer >= ${min}`);
  return n;
}

/**
 * Runs fn every ms on an unref()ed timer (a forgotten backend never keeps the
 * process alive), skipping a tick while the previous run is still going.
 */
export function every(ms: number, fn: () => Promise<unknown>): NodeJS.Timeout | undefined {
  if (ms <= 0) return undefined;
  let running = false;
  const t = setInterval(() => {
    if (running) return;
    running = true;
    fn()
      .catch(() => undefined)
      .finally(() => {
        running = false;
      });
  }, ms);
  t.unref();
  return t;
}
