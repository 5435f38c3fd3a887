/**
 * The backend for several Auth processes sharing one PostgreSQL database.
 * Writes are transactions serialized by the revision counter row (see
 * postgres-sql.ts); watchers are fed from the events table through LISTEN/NOTIFY
 * plus a periodic poll (postgres-feed.ts). Expiry is decided with the injected
 * clock; any process may sweep, the counter lock keeps sweeps from colliding.
 */
import pg from "pg";
import type { Clock } from "../../api/clock.ts";
import { badParameter, connectionProblem, isJumpgateError, JumpgateError } from "../../api/errors.ts";
import { rangeBounds, validateKey, validateLimit } from "./keys.ts";
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
import { PgFeed } from "./postgres-feed.ts";
import { PgSql } from "./postgres-sql.ts";
import type { Backend, BackendEvent, Item, ItemInput, KeyRange, RangeQuery, Watcher, WatchOptions } from "./types.ts";
import { type QueueWatcher, RevisionCompactedError, WatcherSet } from "./watcher.ts";

export interface PostgresBackendOptions extends CommonOptions {
  /** e.g. postgres://user:password@host:5432/dbname */
  connString: string;
  /** Schema that holds the tables (default "public"); created if missing. */
  schema?: string;
  /** Fallback poll of the events table, in ms (default 1 000; 0: notifications only). */
  pollIntervalMs?: number;
  /** Connections in the pool (default 10). */
  poolSize?: number;
}

const PAGE = 1000;
const CONNECT_TIMEOUT_MS = 10_000;

export class PostgresBackend implements Backend, ExpirySweeper {
  private closed = false;
  private readonly timer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly pool: pg.Pool,
    private readonly sql: PgSql,
    private readonly feed: PgFeed,
    private readonly watchers: WatcherSet,
    private readonly clock: Clock,
    private readonly historyLimit: number,
    sweepIntervalMs: number,
  ) {
    this.timer = every(sweepIntervalMs, () => this.sweepExpired());
  }

  /** Connects, creates the schema if needed and starts the change feed. */
  static async open(opts: PostgresBackendOptions): Promise<PostgresBackend> {
    const o = resolveOptions(opts);
    if (typeof opts.connString !== "string" || opts.connString === "") {
      throw badParameter("postgres backend needs a connection string");
    }
    const sql = new PgSql(opts.schema ?? "public");
    const poll = count(opts.pollIntervalMs ?? DEFAULTS.pollIntervalMs, "pollIntervalMs", 0);
    const pool = new pg.Pool({
      connectionString: opts.connString,
      max: count(opts.poolSize ?? 10, "poolSize", 1),
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    });
    pool.on("error", () => undefined); // an idle connection dropped; the pool replaces it
    const watchers = new WatcherSet(o.watcherBufferLimit);
    const feed = new PgFeed(pool, sql, watchers, opts.connString, poll);
    try {
      const c = await pool.connect();
      try {
        await sql.createSchema(c);
      } finally {
        c.release();
      }
      await feed.start();
    } catch (e) {
      await feed.stop();
      await pool.end().catch(() => undefined);
      throw pgError(e, "cannot open the postgres backend");
    }
    return new PostgresBackend(pool, sql, feed, watchers, o.clock, o.historyLimit, o.sweepIntervalMs);
  }

  async get(key: string): Promise<Item | undefined> {
    this.checkOpen();
    validateKey(key);
    const row = await this.guard(() => this.sql.getLive(this.pool, key, this.now()));
    return row === undefined ? undefined : rowToItem(row);
  }

  async getRange(q: RangeQuery): Promise<Item[]> {
    this.checkOpen();
    const b = rangeBounds(q);
    const limit = validateLimit(q.limit);
    const rows = await this.guard(() => this.sql.range(this.pool, b, this.now(), limit));
    return rows.map(rowToItem);
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
    const b = rangeBounds(r);
    const now = this.now();
    return this.write(async (c) => {
      const { revision } = await this.sql.lockAndRead(c, undefined);
      const rows = await this.sql.keysIn(c, b);
      const events = deleteEvents(
        rows.map((x) => x.key),
        revision,
      );
      await this.sql.persist(c, events);
      return { events, result: rows.filter((x) => isLive(x, now)).length };
    });
  }

  keepAlive(key: string, expires: Date | undefined): Promise<Item> {
    return this.mutate({ op: "keepAlive", key, expires });
  }

  watch(opts: WatchOptions): Watcher {
    this.checkOpen();
    const from = opts.fromRevision;
    const w = this.watchers.create(opts, from !== undefined);
    if (from !== undefined) void this.replay(w, from);
    return w;
  }

  async currentRevision(): Promise<number> {
    this.checkOpen();
    return this.guard(() => this.sql.readRevision(this.pool));
  }

  /** Deletes every expired item now (emitting delete events) and trims the event history. */
  async sweepExpired(): Promise<number> {
    if (this.closed) return 0;
    const now = this.now();
    let total = 0;
    for (;;) {
      const keys = await this.guard(() => this.sql.expiredKeys(this.pool, now, 1));
      if (keys.length === 0) break;
      const n = await this.write(async (c) => {
        const { revision } = await this.sql.lockAndRead(c, undefined);
        const events = deleteEvents(await this.sql.expiredKeys(c, now, PAGE), revision);
        await this.sql.persist(c, events);
        return { events, result: events.length };
      });
      total += n;
      if (n < PAGE) break;
    }
    const rev = await this.guard(() => this.sql.readRevision(this.pool));
    await this.guard(() => this.sql.trimEvents(this.pool, rev - this.historyLimit));
    return total;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.watchers.closeAll();
    await this.feed.stop();
    await this.pool.end().catch(() => undefined);
  }

  private async mutate(m: Mutation): Promise<Item> {
    this.checkOpen();
    validateMutation(m);
    const owned = ownMutation(m);
    const key = mutationKey(owned);
    const now = this.now();
    return this.write(async (c) => {
      const { revision, row } = await this.sql.lockAndRead(c, key);
      const plan = planMutation(owned, row, now, revision);
      await this.sql.persist(c, plan.events);
      const last = plan.events[plan.events.length - 1]?.revision ?? revision;
      return { events: plan.events, result: plan.item ?? { key, value: Buffer.alloc(0), revision: last } };
    });
  }

  /** Runs f in a transaction; after commit, nudges this process's feed. */
  private async write<T>(f: (c: pg.PoolClient) => Promise<{ events: EventRow[]; result: T }>): Promise<T> {
    let c: pg.PoolClient;
    try {
      c = await this.pool.connect();
    } catch (e) {
      throw pgError(e, "cannot reach the postgres backend");
    }
    let broken: Error | undefined;
    try {
      await c.query("BEGIN");
      const out = await f(c);
      await c.query("COMMIT");
      if (out.events.length > 0) this.feed.kick();
      return out.result;
    } catch (e) {
      await c.query("ROLLBACK").catch((err: unknown) => {
        broken = err instanceof Error ? err : new Error(String(err));
      });
      throw pgError(e, "the postgres backend failed");
    } finally {
      c.release(broken);
    }
  }

  /** Reads the history after `from` for a held watcher, then lets it go live. */
  private async replay(w: QueueWatcher, from: number): Promise<void> {
    try {
      const history: BackendEvent[] = [];
      let cursor = from;
      for (;;) {
        const rows = await this.sql.eventsAfter(this.pool, cursor, PAGE);
        const first = rows[0];
        if (first !== undefined && first.revision !== cursor + 1) {
          throw new RevisionCompactedError(from, first.revision - 1);
        }
        for (const r of rows) history.push(toBackendEvent(r));
        const last = rows[rows.length - 1];
        if (last === undefined || rows.length < PAGE) break;
        cursor = last.revision;
      }
      w.release(history);
    } catch (e) {
      w.fail(pgError(e, "cannot replay the event history"));
    }
  }

  private async guard<T>(f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (e) {
      throw pgError(e, "the postgres backend failed");
    }
  }

  private now(): number {
    return this.clock.now().getTime();
  }

  private checkOpen(): void {
    if (this.closed) throw connectionProblem("the backend is closed");
  }
}

/** Our own errors pass through; anything from pg becomes a connection problem with the cause kept. */
function pgError(e: unknown, message: string): JumpgateError {
  if (isJumpgateError(e)) return e;
  const detail = e instanceof Error ? e.message : String(e);
  return new JumpgateError("connection-problem", message, { detail, cause: e });
}
