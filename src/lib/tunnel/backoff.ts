/**
 * Jittered exponential backoff for reconnecting agents (DESIGN §5). Pure: the
 * caller supplies the time a connection stayed up and, in tests, the random
 * source. "Full jitter": each delay is uniform in [min, min(cap, base·2^attempt)],
 * so a proxy restart does not bring every agent back in the same instant.
 */

export interface BackoffOptions {
  /** The ceiling of the first delay; default 250 ms. */
  baseMs?: number;
  /** The largest delay; default 30 s. */
  capMs?: number;
  /** The smallest delay, so that a run of small random draws cannot spin; default 100 ms (never above the ceiling). */
  minMs?: number;
  /** A connection that stayed up this long resets the backoff; default 30 s. */
  resetAfterMs?: number;
  /** Uniform in [0, 1); default Math.random. */
  random?: () => number;
}

export const DEFAULT_BACKOFF = { baseMs: 250, capMs: 30_000, minMs: 100, resetAfterMs: 30_000 } as const;

/** The ceiling of the delay after `attempt` failures in a row (0 for the first retry). */
export function backoffCeiling(attempt: number, baseMs: number, capMs: number): number {
  if (!(attempt > 0)) return Math.min(baseMs, capMs);
  // 2^attempt overflows to Infinity long after it passes any cap; min() keeps it finite.
  return Math.min(capMs, baseMs * 2 ** Math.min(attempt, 1024));
}

/** One delay for `attempt` with full jitter. */
export function backoffDelay(attempt: number, opts: BackoffOptions = {}): number {
  const baseMs = opts.baseMs ?? DEFAULT_BACKOFF.baseMs;
  const capMs = opts.capMs ?? DEFAULT_BACKOFF.capMs;
  const ceiling = backoffCeiling(attempt, baseMs, capMs);
  const minMs = Math.min(opts.minMs ?? DEFAULT_BACKOFF.minMs, ceiling);
  const r = clamp01((opts.random ?? Math.random)());
  return Math.round(minMs + r * (ceiling - minMs));
}

function clamp01(r: number): number {
  if (!Number.isFinite(r) || r < 0) return 0;
  return Math.min(r, 1);
}

/** The retry state of one reconnecting loop. */
export class Backoff {
  private attempt = 0;

  constructor(private readonly opts: BackoffOptions = {}) {}

  /** Failures in a row since the last reset. */
  get attempts(): number {
    return this.attempt;
  }

  /**
   * The delay before the next attempt. `upForMs` is how long the connection
   * that just ended stayed up (0 when it never came up): a long-lived one
   * resets the sequence, so a restart after hours of uptime retries quickly.
   */
  next(upForMs = 0): number {
    if (upForMs >= (this.opts.resetAfterMs ?? DEFAULT_BACKOFF.resetAfterMs)) this.attempt = 0;
    const delay = backoffDelay(this.attempt, this.opts);
    this.attempt += 1;
    return delay;
  }

  reset(): void {
    this.attempt = 0;
  }
}
