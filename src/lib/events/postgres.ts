import pg from "pg";
import { type Clock, systemClock } from "../../api/clock.ts";
import { badParameter, connectionProblem, isJumpgateError, JumpgateError } from "../../api/errors.ts";
import { deserializeEvent, encodeCursor, normalizeQuery, prepareEvent } from "./event.ts";
import type { AuditEvent, AuditEventInput, AuditStore, SearchQuery, SearchResult } from "./types.ts";

export interface PostgresAuditLogOptions {
  connString: string;
  /** Table name; default "audit_events". */
  table?: string;
  clock?: Clock;
  /** Filled into events that do not name a cluster. */
  cluster?: string;
  /** Errors of idle pooled connections (they would otherwise crash the process). */
  onPoolError?: (err: Error) => void;
  /** Pool size; default 4. */
  maxConnections?: number;
}

interface SearchRow {
  seq: string;
  time: Date;
  data: Record<string, unknown>;
}

/** Serialises schema creation across several Auth instances starting at once. */
const MIGRATION_LOCK = 0x4a47_4556; // "JGEV"

/** The audit log in a PostgreSQL table, for clusters with several Auth instances. */
export class PostgresAuditLog implements AuditStore {
  private closed = false;

  private constructor(
    private readonly pool: pg.Pool,
    private readonly table: string,
    private readonly clock: Clock,
    private readonly cluster: string | undefined,
  ) {}

  static async open(opts: PostgresAuditLogOptions): Promise<PostgresAuditLog> {
    const table = opts.table ?? "audit_events";
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(table)) throw badParameter(`invalid audit table name "${table}"`);
    const pool = new pg.Pool({ connectionString: opts.connString, max: opts.maxConnections ?? 4 });
    pool.on("error", (err) => opts.onPoolError?.(err));
    const log = new PostgresAuditLog(pool, table, opts.clock ?? systemClock, opts.cluster);
    try {
      await log.migrate();
    } catch (e) {
      await pool.end().catch(() => undefined);
      throw connectionProblem("cannot prepare the audit log database", e);
    }
    return log;
  }

  private async migrate(): Promise<void> {
    const t = this.table;
    const client = await this.pool.connect();
    try {
      await client.query("BEGIN");
      await client.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK]);
      await client.query(`
        CREATE TABLE IF NOT EXISTS ${t} (
          seq      BIGSERIAL PRIMARY KEY,
          uid      UUID NOT NULL UNIQUE,
          time     TIMESTAMPTZ NOT NULL,
          event    TEXT NOT NULL,
          code     TEXT NOT NULL,
          username TEXT,
          data     JSONB NOT NULL
        )`);
      await client.query(`CREATE INDEX IF NOT EXISTS ${t}_time ON ${t} (time, seq)`);
      await client.query(`CREATE INDEX IF NOT EXISTS ${t}_event_time ON ${t} (event, time)`);
      await client.query(`CREATE INDEX IF NOT EXISTS ${t}_user_time ON ${t} (username, time)`);
      await client.query("COMMIT");
    } catch (e) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw e;
    } finally {
      client.release();
    }
  }

  async emit(input: AuditEventInput): Promise<void> {
    await this.write(prepareEvent(input, this.clock, { cluster: this.cluster }));
  }

  async write(e: AuditEvent): Promise<void> {
    this.checkOpen();
    const data = { ...e, time: e.time.toISOString() };
    await this.run(() =>
      this.pool.query(
        `INSERT INTO ${this.table} (uid, time, event, code, username, data) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (uid) DO NOTHING`,
        [e.uid, e.time, e.event, e.code, e.user ?? null, JSON.stringify(data)],
      ),
    );
  }

  async search(query: SearchQuery): Promise<SearchResult> {
    this.checkOpen();
    const q = normalizeQuery(query);
    const params: unknown[] = [new Date(q.fromMs), new Date(q.toMs)];
    const where = ["time >= $1", "time <= $2"];
    if (q.types !== undefined) {
      params.push(q.types);
      where.push(`event = ANY($${params.length}::text[])`);
    }
    if (q.user !== undefined) {
      params.push(q.user);
      where.push(`username = $${params.length}`);
    }
    if (q.after !== undefined) {
      params.push(new Date(q.after.t), q.after.s);
      const op = q.order === "asc" ? ">" : "<";
      where.push(`(time, seq) ${op} ($${params.length - 1}::timestamptz, $${params.length}::bigint)`);
    }
    params.push(q.limit + 1);
    const dir = q.order === "asc" ? "ASC" : "DESC";
    const sql = `SELECT seq, time, data FROM ${this.table} WHERE ${where.join(" AND ")}
                 ORDER BY time ${dir}, seq ${dir} LIMIT $${params.length}`;
    const res = await this.run(() => this.pool.query<SearchRow>(sql, params));
    const page = res.rows.slice(0, q.limit);
    const result: SearchResult = { events: page.map((r) => deserializeEvent(r.data, r.time)) };
    const last = page.at(-1);
    if (res.rows.length > q.limit && last !== undefined) {
      result.nextKey = encodeCursor({ t: last.time.getTime(), s: Number(last.seq) });
    }
    return result;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }

  private async run<T>(f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (e) {
      if (isJumpgateError(e)) throw e;
      throw connectionProblem("audit log database error", e);
    }
  }

  private checkOpen(): void {
    if (this.closed) throw new JumpgateError("internal", "audit log is closed");
  }
}
