/**
 * The default backend: one SQLite file (better-sqlite3, WAL). Every write is one
 * IMMEDIATE transaction that reads the stored row, applies the shared write
 * rules (plan.ts), bumps the revision in `meta` and appends its events to
 * `events`, which watchers replay from when they resume.
 *
 * Durability: with synchronous=FULL (the default) a write whose promise has
 * resolved is on disk and survives a crash of the process or of the machine;
 * "normal" survives process crashes only, and is several times faster.
 */
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import type { Clock } from "../../api/clock.ts";
import { badParameter, connectionProblem, isJumpgateError, JumpgateError } from "../../api/errors.ts";
import { type Bounds, rangeBounds, validateKey, validateLimit } from "./keys.ts";
import { type CommonOptions, count, DEFAULTS, type ExpirySweeper, every, resolveOptions } from "./options.ts";
import {
  deleteEvents,
  type EventRow,
  isLive,
  type Mutation,
  mutationKey,
  ownMutation,
  planMutation,
  rowToItem,
  toBackendEvent,
  validateMutation,
} from "./plan.ts";
import { SqliteStatements } from "./sqlite-statements.ts";
import type { Backend, Item, ItemInput, KeyRange, RangeQuery, Watcher, WatchOptions } from "./types.ts";
import { checkReplayable, RevisionCompactedError, WatcherSet } from "./watcher.ts";

export interface SqliteBackendOptions extends CommonOptions {
  /** The database file (created with its directory if missing), or ":memory:". */
  path: string;
  /** "full" (default): acknowledged writes survive power loss; "normal": only process crashes. */
  synchronous?: "full" | "normal";
  /** How often to pick up writes made by other processes sharing the file, in ms (default 1 000; 0: never). */
  pollIntervalMs?: number;
}

const SWEEP_BATCH = 1000;

export class SqliteBackend implements Backend, ExpirySweeper {
  private readonly db: Database.Database;
  private readonly st: SqliteStatements;
  private readonly clock: Clock;
  private readonly historyLimit: number;
  private readonly watchers: WatcherSet;
  private readonly timers: NodeJS.Timeout[] = [];
  /** The last revision handed to watchers. */
  private cursor: number;
  private closed = false;

  constructor(opts: SqliteBackendOptions) {
    const o = resolveOptions(opts);
    if (typeof opts.path !== "string" || opts.path === "") throw badParameter("sqlite backend needs a file path");
    const sync = opts.synchronous ?? "full";
    if (sync !== "full" && sync !== "normal") throw badParameter('synchronous must be "full" or "normal"');
    const poll = count(opts.pollIntervalMs ?? DEFAULTS.pollIntervalMs, "pollIntervalMs", 0);
    this.clock = o.clock;
    this.historyLimit = o.historyLimit;
    this.watchers = new WatcherSet(o.watcherBufferLimit);
    try {
      if (opts.path !== ":memory:") mkdirSync(dirname(opts.path), { recursive: true });
      this.db = new Database(opts.path);
      this.db.pragma("journal_mode = WAL");
      this.db.pragma(`synchronous = ${sync.toUpperCase()}`);
      this.db.pragma("busy_timeout = 5000");
      this.st = new SqliteStatements(this.db);
    } catch (e) {
      throw storageError(e, `cannot open the sqlite backend at ${opts.path}`);
    }
    this.cursor = this.st.readRevision();
    for (const t of [every(o.sweepIntervalMs, () => this.sweepExpired()), every(poll, async () => this.poll())]) {
      if (t !== undefined) this.timers.push(t);
    }
  }

  async get(key: string): Promise<Item | undefined> {
    return this.guard(() => {
      validateKey(key);
      const row = this.st.getRow.get(key);
      return row !== undefined && isLive(row, this.now()) ? rowToItem(row) : undefined;
    });
  }

  async getRange(q: RangeQuery): Promise<Item[]> {
    return this.guard(() => {
      const b = rangeBounds(q);
      const limit = validateLimit(q.limit) ?? -1;
      const now = this.now();
      const rows = b.end === undefined ? this.st.rangeOpen.all(b.start, now, limit) : this.st.range.all(b.start, b.end, now, limit);
      return rows.map(rowToItem);
    });
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
    return this.guard(() => {
      const b = rangeBounds(r);
      const now = this.now();
      const { events, live } = this.st.inTx(() => {
        const rows = this.keysIn(b);
        const evs = deleteEvents(
          rows.map((x) => x.key),
          this.st.readRevision(),
        );
        this.st.persist(evs);
        return { events: evs, live: rows.filter((x) => isLive(x, now)).length };
      });
      this.publish(events);
      return live;
    });
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
      checkReplayable(from, this.st.firstEvent.get()?.revision);
      for (const ev of this.st.eventsAfter.all(from, -1)) w.offer(toBackendEvent(ev));
    } catch (e) {
      w.fail(storageError(e, "cannot replay the event history"));
    }
    return w;
  }

  async currentRevision(): Promise<number> {
    return this.guard(() => this.st.readRevision());
  }

  /** Deletes every expired item now (emitting delete events) and trims the event history. */
  async sweepExpired(): Promise<number> {
    if (this.closed) return 0;
    return this.guard(() => {
      const now = this.now();
      let total = 0;
      for (;;) {
        const events = this.st.inTx(() => {
          const keys = this.st.expiredKeys.all(now, SWEEP_BATCH).map((r) => r.key);
          const evs = deleteEvents(keys, this.st.readRevision());
          this.st.persist(evs);
          return evs;
        });
        this.publish(events);
        total += events.length;
        if (events.length < SWEEP_BATCH) break;
      }
      this.st.trimEvents.run(this.st.readRevision() - this.historyLimit);
      return total;
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    this.watchers.closeAll();
    this.db.close();
  }

  private async mutate(m: Mutation): Promise<Item> {
    return this.guard(() => {
      validateMutation(m);
      const owned = ownMutation(m);
      const key = mutationKey(owned);
      const now = this.now();
      const plan = this.st.inTx(() => {
        const p = planMutation(owned, this.st.getRow.get(key), now, this.st.readRevision());
        this.st.persist(p.events);
        return p;
      });
      this.publish(plan.events);
      return plan.item ?? { key, value: Buffer.alloc(0), revision: this.cursor };
    });
  }

  private keysIn(b: Bounds): { key: string; expires: number | null }[] {
    return b.end === undefined ? this.st.keysOpen.all(b.start) : this.st.keys.all(b.start, b.end);
  }

  /** Hands committed events to watchers, first fetching any written by another process. */
  private publish(events: readonly EventRow[]): void {
    const first = events[0];
    const last = events[events.length - 1];
    if (first === undefined || last === undefined) return;
    if (first.revision > this.cursor + 1) this.catchUp(first.revision - 1);
    this.watchers.publish(events.filter((e) => e.revision > this.cursor));
    this.cursor = Math.max(this.cursor, last.revision);
  }

  private poll(): void {
    if (this.closed) return;
    const rev = this.st.readRevision();
    if (rev > this.cursor) this.catchUp(rev);
  }

  /** Publishes the stored events after the cursor, up to `upTo`. */
  private catchUp(upTo: number): void {
    if (this.watchers.size === 0) {
      this.cursor = upTo;
      return;
    }
    while (this.cursor < upTo) {
      const rows = this.st.eventsAfter.all(this.cursor, Math.min(SWEEP_BATCH, upTo - this.cursor));
      const first = rows[0];
      const last = rows[rows.length - 1];
      if (first === undefined || last === undefined || first.revision !== this.cursor + 1) {
        this.watchers.failAll(new RevisionCompactedError(this.cursor, (first?.revision ?? upTo + 1) - 1));
        this.cursor = upTo;
        return;
      }
      this.watchers.publish(rows);
      this.cursor = last.revision;
    }
  }

  private guard<T>(f: () => T): T {
    this.checkOpen();
    try {
      return f();
    } catch (e) {
      throw storageError(e, "the sqlite backend failed");
    }
  }

  private now(): number {
    return this.clock.now().getTime();
  }

  private checkOpen(): void {
    if (this.closed) throw connectionProblem("the backend is closed");
  }
}

/** Our own errors pass through; anything from SQLite becomes a connection problem with the cause kept. */
function storageError(e: unknown, message: string): JumpgateError {
  if (isJumpgateError(e)) return e;
  const detail = e instanceof Error ? e.message : String(e);
  return new JumpgateError("connection-problem", message, { detail, cause: e });
}
