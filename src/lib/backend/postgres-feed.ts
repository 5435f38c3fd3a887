/**
 * The change feed of the postgres backend. Every write transaction ends with
 * pg_notify(channel, revision); this feed LISTENs on a dedicated connection and,
 * on each notification (and on a periodic poll, in case a notification is lost
 * while reconnecting), reads `jumpgate_events` after its cursor in revision
 * order and hands the rows to the watchers. Revisions are gap-free, so a row
 * that does not follow the cursor means history was trimmed under us: every
 * watcher then fails with RevisionCompactedError and must re-list.
 */
import pg from "pg";
import type { PgSql, Queryable } from "./postgres-sql.ts";
import { RevisionCompactedError, type WatcherSet } from "./watcher.ts";

const PAGE = 1000;
const MAX_BACKOFF_MS = 5000;

export class PgFeed {
  /** The last revision handed to watchers. */
  cursor = 0;
  private listener: pg.Client | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private pollTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private backoffMs = 100;

  constructor(
    private readonly pool: Queryable,
    private readonly sql: PgSql,
    private readonly watchers: WatcherSet,
    private readonly connString: string,
    private readonly pollIntervalMs: number,
  ) {}

  /** Reads the current revision and starts listening; resolves once LISTEN is in place. */
  async start(): Promise<void> {
    this.cursor = await this.sql.readRevision(this.pool);
    await this.listen();
    if (this.pollIntervalMs > 0) {
      this.pollTimer = setInterval(() => this.kick(), this.pollIntervalMs);
      this.pollTimer.unref();
    }
    this.kick();
  }

  /** Asks for a read of new events (coalesced with one already running). */
  kick(): void {
    if (this.stopped) return;
    if (this.running !== undefined) {
      this.again = true;
      return;
    }
    this.running = this.drainWhileKicked().finally(() => {
      this.running = undefined;
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.pollTimer !== undefined) clearInterval(this.pollTimer);
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    await this.running;
    const l = this.listener;
    this.listener = undefined;
    if (l !== undefined) await l.end().catch(() => undefined);
  }

  private async drainWhileKicked(): Promise<void> {
    do {
      this.again = false;
      try {
        await this.drain();
      } catch {
        // The database is unreachable: the poll (or the next notification) tries again.
        return;
      }
    } while (this.again && !this.stopped);
  }

  private async drain(): Promise<void> {
    while (!this.stopped) {
      if (this.watchers.size === 0) {
        // Nobody to feed: skip ahead, unless a watcher arrived while we read
        // (it may need the events we would skip; go round and read them).
        const rev = await this.sql.readRevision(this.pool);
        if (this.watchers.size === 0) {
          this.cursor = Math.max(this.cursor, rev);
          return;
        }
        continue;
      }
      const rows = await this.sql.eventsAfter(this.pool, this.cursor, PAGE);
      const first = rows[0];
      const last = rows[rows.length - 1];
      if (first === undefined || last === undefined || this.stopped) return;
      if (first.revision !== this.cursor + 1) {
        this.watchers.failAll(new RevisionCompactedError(this.cursor, first.revision - 1));
      } else {
        this.watchers.publish(rows);
      }
      this.cursor = last.revision;
      if (rows.length < PAGE) return;
    }
  }

  private async listen(): Promise<void> {
    const client = new pg.Client({ connectionString: this.connString, connectionTimeoutMillis: 10_000 });
    let dead = false;
    const lost = () => {
      dead = true;
      if (this.listener !== client) return;
      this.listener = undefined;
      client.end().catch(() => undefined);
      this.scheduleReconnect();
    };
    client.on("error", lost);
    client.on("end", lost);
    client.on("notification", () => this.kick());
    try {
      await client.connect();
      await client.query(`LISTEN "${this.sql.channel}"`);
      if (dead) throw new Error("the LISTEN connection closed while starting");
    } catch (e) {
      client.removeAllListeners();
      client.on("error", () => undefined);
      await client.end().catch(() => undefined);
      throw e;
    }
    if (this.stopped) {
      await client.end().catch(() => undefined);
      return;
    }
    this.listener = client;
    this.backoffMs = 100;
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.retryTimer !== undefined) return;
    const delay = this.backoffMs * (0.5 + Math.random());
    this.backoffMs = Math.min(this.backoffMs * 2, MAX_BACKOFF_MS);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.listen().then(
        () => this.kick(),
        () => this.scheduleReconnect(),
      );
    }, delay);
    this.retryTimer.unref();
  }
}
