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

/**
 * The default audit log: its own SQLite file (separate from the backend's),
 * WAL with synchronous=FULL so an event is on disk when `emit` resolves.
 */
export class SqliteAuditLog implements AuditStore {
  private readonly db: Database.Database;
  private readonly clock: Clock;
  private readonly cluster: string | undefined;
  private readonly insert: Database.Statement<[string, number, string, string, string | null, string]>;
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
    this.insert = this.db.prepare(
      "INSERT OR IGNORE INTO events (uid, time, event, code, username, data) VALUES (?, ?, ?, ?, ?, ?)",
    );
  }

  async emit(input: AuditEventInput): Promise<void> {
    await this.write(prepareEvent(input, this.clock, { cluster: this.cluster }));
  }

  async write(e: AuditEvent): Promise<void> {
    this.checkOpen();
    this.insert.run(e.uid, e.time.getTime(), e.event, e.code, e.user ?? null, serializeEvent(e));
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
    this.closed = true;
    this.db.close();
  }

  private checkOpen(): void {
    if (this.closed) throw new JumpgateError("internal", "audit log is closed");
  }
}
