/**
 * In-memory backend for tests: a map plus a sorted key list, a revision
 * counter, TTL decided by the injected clock, and a bounded event history so
 * watchers can resume from a revision.
 */
import type { Clock } from "../../api/clock.ts";
import { connectionProblem } from "../../api/errors.ts";
import { compareKeys, inBounds, rangeBounds, validateKey, validateLimit } from "./keys.ts";
import { type CommonOptions, type ExpirySweeper, every, resolveOptions } from "./options.ts";
import {
  deleteEvents,
  type EventRow,
  isLive,
  type Mutation,
  mutationKey,
  ownMutation,
  planMutation,
  type Row,
  rowToItem,
  toBackendEvent,
  validateMutation,
} from "./plan.ts";
import type { Backend, Item, ItemInput, KeyRange, RangeQuery, Watcher, WatchOptions } from "./types.ts";
import { checkReplayable, WatcherSet } from "./watcher.ts";

export type MemoryBackendOptions = CommonOptions;

export class MemoryBackend implements Backend, ExpirySweeper {
  private readonly rows = new Map<string, Row>();
  /** Every stored key (live or expired), sorted by compareKeys. */
  private keys: string[] = [];
  private revision = 0;
  private history: EventRow[] = [];
  private readonly clock: Clock;
  private readonly historyLimit: number;
  private readonly watchers: WatcherSet;
  private readonly timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(opts: MemoryBackendOptions = {}) {
    const o = resolveOptions(opts);
    this.clock = o.clock;
    this.historyLimit = o.historyLimit;
    this.watchers = new WatcherSet(o.watcherBufferLimit);
    this.timer = every(o.sweepIntervalMs, () => this.sweepExpired());
  }

  async get(key: string): Promise<Item | undefined> {
    this.checkOpen();
    validateKey(key);
    const row = this.rows.get(key);
    return row !== undefined && isLive(row, this.now()) ? copyItem(rowToItem(row)) : undefined;
  }

  async getRange(q: RangeQuery): Promise<Item[]> {
    this.checkOpen();
    const bounds = rangeBounds(q);
    const limit = validateLimit(q.limit) ?? Number.POSITIVE_INFINITY;
    const now = this.now();
    const out: Item[] = [];
    for (let i = this.lowerBound(bounds.start); i < this.keys.length && out.length < limit; i++) {
      const key = this.keys[i];
      if (key === undefined || !inBounds(key, bounds)) break;
      const row = this.rows.get(key);
      if (row !== undefined && isLive(row, now)) out.push(copyItem(rowToItem(row)));
    }
    return out;
  }

  put(item: ItemInput): Promise<Item> {
    return this.mutate({ op: "put", input: item });
  }

  create(item: ItemInput): Promise<Item> {
    return this.mutate({ op: "create", input: item });
  }

  update(item: ItemInput): Promise<Item> {
    return this.mutate({ op: "update", input: item });
  }

  compareAndSwap(expected: { key: string; revision?: number; value?: Buffer }, replace: ItemInput): Promise<Item> {
    return this.mutate({ op: "cas", expected, input: replace });
  }

  async delete(key: string): Promise<void> {
    await this.mutate({ op: "delete", key });
  }

  async deleteRange(r: KeyRange): Promise<number> {
    this.checkOpen();
    const bounds = rangeBounds(r);
    const now = this.now();
    const keys: string[] = [];
    let live = 0;
    for (let i = this.lowerBound(bounds.start); i < this.keys.length; i++) {
      const key = this.keys[i];
      if (key === undefined || !inBounds(key, bounds)) break;
      keys.push(key);
      const row = this.rows.get(key);
      if (row !== undefined && isLive(row, now)) live++;
    }
    this.apply(deleteEvents(keys, this.revision));
    return live;
  }

  keepAlive(key: string, expires: Date | undefined): Promise<Item> {
    return this.mutate({ op: "keepAlive", key, expires });
  }

  watch(opts: WatchOptions): Watcher {
    this.checkOpen();
    const w = this.watchers.create(opts);
    const from = opts.fromRevision;
    if (from === undefined) return w;
    try {
      checkReplayable(from, this.history[0]?.revision);
    } catch (e) {
      w.fail(e);
      return w;
    }
    for (const ev of this.history) if (ev.revision > from) w.offer(toBackendEvent(ev));
    return w;
  }

  async currentRevision(): Promise<number> {
    this.checkOpen();
    return this.revision;
  }

  /** Deletes every expired item now (emitting delete events); returns how many. */
  async sweepExpired(): Promise<number> {
    if (this.closed) return 0;
    const now = this.now();
    const expired = this.keys.filter((k) => {
      const row = this.rows.get(k);
      return row !== undefined && !isLive(row, now);
    });
    if (expired.length > 0) this.apply(deleteEvents(expired, this.revision));
    return expired.length;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.watchers.closeAll();
    this.rows.clear();
    this.keys = [];
    this.history = [];
  }

  private async mutate(m: Mutation): Promise<Item> {
    this.checkOpen();
    validateMutation(m);
    const owned = ownMutation(m);
    const key = mutationKey(owned);
    const plan = planMutation(owned, this.rows.get(key), this.now(), this.revision);
    this.apply(plan.events);
    const result = plan.item ?? { key, value: Buffer.alloc(0), revision: this.revision };
    return copyItem(result);
  }

  private apply(events: EventRow[]): void {
    if (events.length === 0) return;
    for (const ev of events) {
      if (ev.type === "put") {
        if (!this.rows.has(ev.key)) this.keys.splice(this.lowerBound(ev.key), 0, ev.key);
        this.rows.set(ev.key, { key: ev.key, value: ev.value, expires: ev.expires, revision: ev.revision });
      } else if (this.rows.delete(ev.key)) {
        this.keys.splice(this.lowerBound(ev.key), 1);
      }
      this.revision = ev.revision;
      this.history.push(ev);
    }
    const excess = this.history.length - this.historyLimit;
    if (excess > 0 && excess > this.historyLimit >> 3) this.history.splice(0, excess);
    this.watchers.publish(events);
  }

  private lowerBound(key: string): number {
    let lo = 0;
    let hi = this.keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const k = this.keys[mid];
      if (k !== undefined && compareKeys(k, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private now(): number {
    return this.clock.now().getTime();
  }

  private checkOpen(): void {
    if (this.closed) throw connectionProblem("the backend is closed");
  }
}

function copyItem(item: Item): Item {
  return { ...item, value: Buffer.from(item.value) };
}
