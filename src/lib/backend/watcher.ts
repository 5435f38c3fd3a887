/**
 * Watchers shared by every backend: a bounded queue per watcher behind the
 * async-iterator interface, and the set a backend publishes its events to.
 *
 * A watcher drops any event whose revision is not above the last one it
 * delivered, so a backend may offer the same event twice (history replay racing
 * the live feed) without the consumer ever seeing a duplicate.
 */
import { badParameter, JumpgateError, limitExceeded } from "../../api/errors.ts";
import { matchesPrefixes, validateKey, validateRevision } from "./keys.ts";
import { type EventRow, toBackendEvent } from "./plan.ts";
import type { BackendEvent, Watcher, WatchOptions } from "./types.ts";

/** Thrown (through the watcher) when fromRevision is older than the retained history. */
export class RevisionCompactedError extends JumpgateError {
  readonly fromRevision: number;
  constructor(fromRevision: number, oldestResumable: number) {
    super(
      "bad-parameter",
      `cannot resume watching from revision ${fromRevision}: the event history only goes back to revision ` +
        `${oldestResumable}; list the keys again and watch from the current revision`,
    );
    this.fromRevision = fromRevision;
  }
}

export function isRevisionCompacted(e: unknown): e is RevisionCompactedError {
  return e instanceof RevisionCompactedError;
}

/**
 * Throws unless a replay of everything after `fromRevision` is complete: the
 * first retained event after it must be fromRevision + 1 (revisions are gap-free).
 */
export function checkReplayable(fromRevision: number, firstRetained: number | undefined): void {
  if (firstRetained !== undefined && firstRetained > fromRevision + 1) {
    throw new RevisionCompactedError(fromRevision, firstRetained - 1);
  }
}

type Waiter = { resolve: (r: IteratorResult<BackendEvent>) => void; reject: (e: unknown) => void };

export class QueueWatcher implements Watcher {
  private queue: (BackendEvent | undefined)[] = [];
  private head = 0;
  private waiters: Waiter[] = [];
  private error: unknown = undefined;
  private done = false;
  private last: number;
  private held: BackendEvent[] | undefined;

  constructor(
    private readonly prefixes: readonly string[],
    after: number | undefined,
    private readonly bufferLimit: number,
    hold: boolean,
    private readonly onEnd: (w: QueueWatcher) => void,
  ) {
    this.last = after ?? 0;
    this.held = hold ? [] : undefined;
  }

  /** Offers an event; it is queued if it matches and is newer than the last one. */
  offer(ev: BackendEvent): void {
    if (this.done) return;
    if (this.held !== undefined) {
      if (matchesPrefixes(ev.item.key, this.prefixes)) this.held.push(ev);
      return;
    }
    if (ev.item.revision <= this.last || !matchesPrefixes(ev.item.key, this.prefixes)) return;
    this.last = ev.item.revision;
    const w = this.waiters.shift();
    if (w !== undefined) {
      w.resolve({ value: ev, done: false });
      return;
    }
    this.queue.push(ev);
    if (this.queue.length - this.head > this.bufferLimit) {
      this.fail(limitExceeded(`watcher fell more than ${this.bufferLimit} events behind; list again and re-watch`));
    }
  }

  /** Ends hold mode: delivers the replayed history, then what arrived meanwhile. */
  release(history: readonly BackendEvent[]): void {
    const held = this.held ?? [];
    this.held = undefined;
    for (const ev of history) this.offer(ev);
    for (const ev of held) this.offer(ev);
  }

  /** Ends the stream with an error: the next read rejects with it. */
  fail(err: unknown): void {
    if (this.done) return;
    this.done = true;
    this.queue = [];
    this.head = 0;
    this.held = undefined;
    const waiters = this.waiters.splice(0);
    if (waiters.length > 0) {
      for (const w of waiters) w.reject(err);
    } else {
      this.error = err;
    }
    this.onEnd(this);
  }

  close(): void {
    if (this.done) return;
    this.done = true;
    this.queue = [];
    this.head = 0;
    this.held = undefined;
    for (const w of this.waiters.splice(0)) w.resolve({ value: undefined, done: true });
    this.onEnd(this);
  }

  next(): Promise<IteratorResult<BackendEvent>> {
    if (this.head < this.queue.length) {
      const ev = this.queue[this.head];
      this.queue[this.head] = undefined;
      this.head++;
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
      if (ev !== undefined) return Promise.resolve({ value: ev, done: false });
    }
    if (this.error !== undefined) {
      const err = this.error;
      this.error = undefined;
      return Promise.reject(err);
    }
    if (this.done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  [Symbol.asyncIterator](): AsyncIterator<BackendEvent> {
    return {
      next: () => this.next(),
      return: () => {
        this.close();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}

/** The watchers of one backend instance. */
export class WatcherSet {
  private readonly watchers = new Set<QueueWatcher>();

  constructor(private readonly bufferLimit: number) {}

  get size(): number {
    return this.watchers.size;
  }

  /**
   * Creates a watcher. With `hold`, it buffers what is published until
   * `release(history)` is called (used while history is read asynchronously).
   */
  create(opts: WatchOptions, hold = false): QueueWatcher {
    if (!Array.isArray(opts.prefixes)) throw badParameter("watch prefixes must be a list");
    for (const p of opts.prefixes) {
      if (typeof p !== "string") throw badParameter("watch prefixes must be strings");
      if (p.length > 0) validateKey(p, "watch prefix");
    }
    const from = opts.fromRevision === undefined ? undefined : validateRevision(opts.fromRevision, "fromRevision");
    const w = new QueueWatcher([...opts.prefixes], from, this.bufferLimit, hold, (x) => this.watchers.delete(x));
    this.watchers.add(w);
    return w;
  }

  publish(events: readonly EventRow[]): void {
    if (this.watchers.size === 0) return;
    const watchers = [...this.watchers];
    for (const row of events) {
      const ev = toBackendEvent(row);
      for (const w of watchers) w.offer(ev);
    }
  }

  failAll(err: unknown): void {
    for (const w of [...this.watchers]) w.fail(err);
  }

  closeAll(): void {
    for (const w of [...this.watchers]) w.close();
  }
}
