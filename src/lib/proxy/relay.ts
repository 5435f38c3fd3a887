import type { Duplex } from "node:stream";

export interface RelayOptions {
  /** After one side closed, how long the other may take to flush and close before it is destroyed; default 30 s. */
  drainTimeoutMs?: number;
  /** Called once, when both sides are closed. */
  onClose?: () => void;
}

/**
 * Pipes raw bytes both ways between two streams (a user's channel and a
 * node's socket or tunnel channel). An end on one side ends the other
 * (half-close passes through); an error destroys both; when one side has
 * closed, the other is ended and given time to flush before it is destroyed.
 * Callers set `setNoDelay(true)` on TCP sockets (DESIGN §7b).
 */
export function relay(a: Duplex, b: Duplex, opts: RelayOptions = {}): void {
  let closed = 0;
  let timer: NodeJS.Timeout | undefined;
  const destroyBoth = () => {
    a.destroy();
    b.destroy();
  };
  const onClosed = (other: Duplex) => () => {
    closed += 1;
    if (closed === 2) {
      if (timer) clearTimeout(timer);
      opts.onClose?.();
      return;
    }
    other.end();
    timer = setTimeout(() => other.destroy(), opts.drainTimeoutMs ?? 30_000);
    timer.unref();
  };
  a.on("error", destroyBoth);
  b.on("error", destroyBoth);
  a.once("close", onClosed(b));
  b.once("close", onClosed(a));
  a.pipe(b);
  b.pipe(a);
}
