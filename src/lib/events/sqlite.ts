import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import { type Clock, systemClock } from "../../api/clock.ts";
import { JumpgateError } from "../../api/errors.ts";
import { deserializeEvent, encodeCursor, normalizeQuery, prepareEvent, serializeEvent } from "./event.ts";
import type { AuditEvent, AuditEventInput, AuditStore, SearchQuery, SearchResult } from "./types.ts";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS events (
  seq      INTEGER PRIMARY KEY AUTOINCREMENT,
  uid      TEXT NOT NULL UNIQUE,
  time     INTEGER NOT NULL,          -- milliseconds since the epoch
  event    TEXT NOT NULL,
  code     TEXT NOT NULL,
  username TEXT,
  data     TEXT NOT NULL              -- the whole event as JSON
);
CREATE INDEX IF NOT EXISTS events_time ON events (time, seq);
CREATE INDEX IF NOT EXISTS events_event_time ON events (event, time);
CREATE INDEX IF NOT EXISTS events_user_time ON events (username, time);
CREATE TRIGGER IF NOT EXISTS events_append_only BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
`;

interface SearchRow {
  seq: number;
  time: number;
  data: string;
}

export interface SqliteAuditLogOptions {
  /** The database file, e.g. `<data_dir>/events.db`; ":memory:" for tests. */
  path: string;
  clock?: Clock;
  /** Filled into events that do not name a cluster. */
  cluster?: string;
}

type Row = [uid: string, time: number, event: string, code: string, username: string | null, data: string];

interface Pending {
  row: Row;
  resolve: () => void;
  reject: (e: unknown) => void;
}

/**
 * The default audit log: its own SQLite file (separate from the backend's),
 * WAL with synchronous=FULL so an event is on disk when `emit` resolves.
 *
 * Group commit: the events written during one turn of the event loop are
 * inserted in one transaction (one fsync instead of one per event) on the next
 * `setImmediate`, and each `emit` resolves only after its transaction commits,
 * so "on disk when emit resolves" still holds. Should the batch fail, its
 * events are retried one by one so that only a bad event fails its own emit.
 */
export class SqliteAuditLog implements AuditStore {
  private readonly db: Database.Database;
  private readonly clock: Clock;
  private readonly cluster: string | undefined;
  private readonly insert: Database.Statement<Row>;
  private readonly insertBatch: (rows: readonly Row[]) => void;
  private pending: Pending[] = [];
  private flushScheduled = false;
  private closed = false;

  constructor(opts: SqliteAuditLogOptions) {
    this.clock = opts.clock ?? systemClock;
    this.cluster = opts.cluster;
    if (opts.path !== ":memory:") mkdirSync(dirname(opts.path), { recursive: true, mode: 0o700 });
    this.db = new Database(opts.path);
    this.db.pragma("journal_mode = WAL");
    this.db.pragma("synchronous = FULL");
    this.db.pragma("busy_timeout = 5000");
    this.db.exec(SCHEMA);
    this.insert = this.db.prepare("INSERT OR IGNORE INTO events (uid, time, event, code, username, data) VALUES (?, ?, ?, ?, ?, ?)");
    this.insertBatch = this.db.transaction((rows: readonly Row[]) => {
      for (const r of rows) this.insert.run(...r);
    });
  }

  async emit(input: AuditEventInput): Promise<void> {
    await this.write(prepareEvent(input, this.clock, { cluster: this.cluster }));
  }

  write(e: AuditEvent): Promise<void> {
    try {
      this.checkOpen();
      const row: Row = [e.uid, e.time.getTime(), e.event, e.code, e.user ?? null, serializeEvent(e)];
      return new Promise<void>((resolve, reject) => {
        this.pending.push({ row, resolve, reject });
        if (!this.flushScheduled) {
          this.flushScheduled = true;
          setImmediate(() => this.flush());
        }
      });
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Commits every pending event, then settles their promises. */
  private flush(): void {
    this.flushScheduled = false;
    const batch = this.pending;
    if (batch.length === 0) return;
    this.pending = [];
    try {
      this.insertBatch(batch.map((p) => p.row));
    } catch {
      for (const p of batch) {
        try {
          this.insert.run(...p.row);
          p.resolve();
        } catch (err) {
          p.reject(err);
        }
      }
      return;
    }
    for (const p of batch) p.resolve();
  }

  async search(query: SearchQuery): Promise<SearchResult> {
    this.checkOpen();
    const q = normalizeQuery(query);
    const where = ["time >= ?", "time <= ?"];
    const params: (string | number)[] = [q.fromMs, q.toMs];
    if (q.types !== undefined) {
      where.push(`event IN (${q.types.map(() => "?").join(", ")})`);
      params.push(...q.types);
    }
    if (q.user !== undefined) {
      where.push("username = ?");
      params.push(q.user);
    }
    if (q.after !== undefined) {
      where.push(q.order === "asc" ? "(time, seq) > (?, ?)" : "(time, seq) < (?, ?)");
      params.push(q.after.t, q.after.s);
    }
    const dir = q.order === "asc" ? "ASC" : "DESC";
    const sql = `SELECT seq, time, data FROM events WHERE ${where.join(" AND ")} ORDER BY time ${dir}, seq ${dir} LIMIT ?`;
    params.push(q.limit + 1);
    const rows = this.db.prepare<(string | number)[], SearchRow>(sql).all(...params);
    const page = rows.slice(0, q.limit);
    const result: SearchResult = { events: page.map((r) => deserializeEvent(r.data, new Date(r.time))) };
    const last = page.at(-1);
    if (rows.length > q.limit && last !== undefined) result.nextKey = encodeCursor({ t: last.time, s: last.seq });
    return result;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    this.db.close();
  }

  private checkOpen(): void {
    if (this.closed) throw new JumpgateError("internal", "audit log is closed");
  }
}
