import { type Clock, systemClock } from "../../api/clock.ts";
import type { Logger } from "./logger.ts";

export interface RateLimitOptions {
  /** Lines per key per interval; default 5. */
  perKey?: number;
  /** Lines for all keys together per interval; default 100. */
  total?: number;
  /** Default one minute. */
  intervalMs?: number;
  /** Keys remembered at once (oldest forgotten first); default 10 000. */
  maxKeys?: number;
  clock?: Clock;
}

type LogLevel = "error" | "warn" | "info" | "debug";

/** Logs about misbehaving clients, at most `perKey` lines per key (e.g. a client address) per interval. */
export interface RateLimitedLogger {
  error(key: string, obj: Record<string, unknown>, msg: string): void;
  warn(key: string, obj: Record<string, unknown>, msg: string): void;
  info(key: string, obj: Record<string, unknown>, msg: string): void;
  debug(key: string, obj: Record<string, unknown>, msg: string): void;
}

interface Window {
  start: number;
  count: number;
  suppressed: number;
}

/**
 * Wraps a logger so a flood from one client (or many) cannot flood the log
 * (STYLE §8). The first line of a key's next interval says how many were
 * dropped (`suppressed`); lines dropped by the total cap are counted in a
 * summary line when the interval turns over.
 */
export function rateLimitedLogger(logger: Logger, opts: RateLimitOptions = {}): RateLimitedLogger {
  const perKey = opts.perKey ?? 5;
  const total = opts.total ?? 100;
  const intervalMs = opts.intervalMs ?? 60_000;
  const maxKeys = opts.maxKeys ?? 10_000;
  const clock = opts.clock ?? systemClock;
  const windows = new Map<string, Window>();
  const global: Window = { start: Number.NEGATIVE_INFINITY, count: 0, suppressed: 0 };

  const log = (level: LogLevel, key: string, obj: Record<string, unknown>, msg: string): void => {
    if (!logger.isLevelEnabled(level)) return;
    const now = clock.now().getTime();
    if (now - global.start >= intervalMs) {
      if (global.suppressed > 0) {
        logger.warn({ suppressed: global.suppressed }, "log lines about misbehaving clients were suppressed");
      }
      global.start = now;
      global.count = 0;
      global.suppressed = 0;
    }
    let w = windows.get(key);
    if (w === undefined || now - w.start >= intervalMs) {
      const suppressed = w?.suppressed ?? 0;
      windows.delete(key);
      w = { start: now, count: 0, suppressed };
      windows.set(key, w);
      while (windows.size > maxKeys) {
        const oldest = windows.keys().next();
        if (oldest.done === true) break;
        windows.delete(oldest.value);
      }
    }
    if (w.count >= perKey) {
      w.suppressed += 1;
      return;
    }
    if (global.count >= total) {
      global.suppressed += 1;
      return;
    }
    w.count += 1;
    global.count += 1;
    const extra = w.suppressed > 0 ? { suppressed: w.suppressed } : {};
    w.suppressed = 0;
    logger[level]({ ...obj, ...extra, rate_limit_key: key }, msg);
  };

  return {
    error: (k, o, m) => log("error", k, o, m),
    warn: (k, o, m) => log("warn", k, o, m),
    info: (k, o, m) => log("info", k, o, m),
    debug: (k, o, m) => log("debug", k, o, m),
  };
}
