/**
 * The PostgreSQL schema and queries of the postgres backend.
 *
 * Revisions come from one counter row (`jumpgate_meta`, id 1). Every write
 * transaction locks that row first (SELECT ... FOR UPDATE), so writes from every
 * process are serialized and revisions are assigned in commit order without
 * gaps. That is what lets a change-feed reader move a cursor through
 * `jumpgate_events` and know it missed nothing: a sequence would hand out
 * revisions that commit out of order (10 visible before 9) or never (rollback).
 */
import type pg from "pg";
import { badParameter } from "../../api/errors.ts";
import type { Bounds } from "./keys.ts";
import type { EventRow, Row } from "./plan.ts";

/** A pool or a checked-out client. */
export type Queryable = Pick<pg.ClientBase, "query">;

interface PgItem {
  key: string;
  value: Buffer;
  expires: string | null;
  revision: string;
}

interface PgEvent extends PgItem {
  type: "put" | "delete";
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,45}$/;
const COLS = "key, value, expires, revision";
const LIVE = "(expires IS NULL OR expires > $NOW)";

export class PgSql {
  readonly channel: string;
  private readonly items: string;
  private readonly events: string;
  private readonly meta: string;
  private readonly schema: string;

  constructor(schema: string) {
    if (!SCHEMA_NAME.test(schema)) throw badParameter(`postgres schema name "${schema}" is not valid`);
    this.schema = schema;
    this.items = `"${schema}".jumpgate_items`;
    this.events = `"${schema}".jumpgate_events`;
    this.meta = `"${schema}".jumpgate_meta`;
    this.channel = `jumpgate_backend_${schema}`;
  }

  /** Creates the tables if missing; safe when several processes start at once. */
  async createSchema(c: Queryable): Promise<void> {
    await c.query("BEGIN");
    try {
      await c.query("SELECT pg_advisory_xact_lock(hashtext('jumpgate backend schema'))");
      const exists = await c.query("SELECT 1 FROM pg_namespace WHERE nspname = $1", [this.schema]);
      if (exists.rowCount === 0) await c.query(`CREATE SCHEMA "${this.schema}"`);
      await c.query(`CREATE TABLE IF NOT EXISTS ${this.items} (
        key      text COLLATE "C" PRIMARY KEY,
        value    bytea NOT NULL,
        expires  bigint,
        revision bigint NOT NULL)`);
      await c.query(`CREATE INDEX IF NOT EXISTS jumpgate_items_expires ON ${this.items} (expires) WHERE expires IS NOT NULL`);
      await c.query(`CREATE TABLE IF NOT EXISTS ${this.events} (
        revision bigint PRIMARY KEY,
        type     text NOT NULL CHECK (type IN ('put', 'delete')),
        key      text COLLATE "C" NOT NULL,
        value    bytea NOT NULL,
        expires  bigint)`);
      await c.query(`CREATE TABLE IF NOT EXISTS ${this.meta} (id int PRIMARY KEY, revision bigint NOT NULL)`);
      await c.query(`INSERT INTO ${this.meta} (id, revision) VALUES (1, 0) ON CONFLICT (id) DO NOTHING`);
      await c.query("COMMIT");
    } catch (e) {
      await c.query("ROLLBACK").catch(() => undefined);
      throw e;
    }
  }

  /**
   * Inside a transaction: takes the cluster-wide write lock and returns the
   * last revision with the stored row of `key` (live or expired), if any.
   * Two statements on purpose: in READ COMMITTED a statement that waited for a
   * row lock still reads other tables as of its start, so the item must be read
   * by a statement that begins after the lock is held.
   */
  async lockAndRead(c: Queryable, key: string | undefined): Promise<{ revision: number; row: Row | undefined }> {
    const m = await c.query<{ revision: string }>(`SELECT revision FROM ${this.meta} WHERE id = 1 FOR UPDATE`);
    const meta = m.rows[0];
    if (meta === undefined) throw new Error("jumpgate_meta has no revision row");
    if (key === undefined) return { revision: Number(meta.revision), row: undefined };
    const r = await c.query<PgItem>(`SELECT ${COLS} FROM ${this.items} WHERE key = $1`, [key]);
    const item = r.rows[0];
    return { revision: Number(meta.revision), row: item === undefined ? undefined : toRow(item) };
  }

  async readRevision(c: Queryable): Promise<number> {
    const r = await c.query<{ revision: string }>(`SELECT revision FROM ${this.meta} WHERE id = 1`);
    return Number(r.rows[0]?.revision ?? 0);
  }

  async getLive(c: Queryable, key: string, now: number): Promise<Row | undefined> {
    const r = await c.query<PgItem>(`SELECT ${COLS} FROM ${this.items} WHERE key = $1 AND ${live(2)}`, [key, now]);
    const row = r.rows[0];
    return row === undefined ? undefined : toRow(row);
  }

  async range(c: Queryable, b: Bounds, now: number, limit: number | undefined): Promise<Row[]> {
    const r =
      b.end === undefined
        ? await c.query<PgItem>(`SELECT ${COLS} FROM ${this.items} WHERE key >= $1 AND ${live(2)} ORDER BY key LIMIT $3`, [b.start, now, limit ?? null])
        : await c.query<PgItem>(`SELECT ${COLS} FROM ${this.items} WHERE key >= $1 AND key < $2 AND ${live(3)} ORDER BY key LIMIT $4`, [
            b.start,
            b.end,
            now,
            limit ?? null,
          ]);
    return r.rows.map(toRow);
  }

  /** Keys in a range, live or expired, in key order. */
  async keysIn(c: Queryable, b: Bounds): Promise<{ key: string; expires: number | null }[]> {
    const r =
      b.end === undefined
        ? await c.query<{ key: string; expires: string | null }>(`SELECT key, expires FROM ${this.items} WHERE key >= $1 ORDER BY key`, [b.start])
        : await c.query<{ key: string; expires: string | null }>(`SELECT key, expires FROM ${this.items} WHERE key >= $1 AND key < $2 ORDER BY key`, [
            b.start,
            b.end,
          ]);
    return r.rows.map((x) => ({ key: x.key, expires: x.expires === null ? null : Number(x.expires) }));
  }

  async expiredKeys(c: Queryable, now: number, limit: number): Promise<string[]> {
    const r = await c.query<{ key: string }>(`SELECT key FROM ${this.items} WHERE expires IS NOT NULL AND expires <= $1 ORDER BY key LIMIT $2`, [now, limit]);
    return r.rows.map((x) => x.key);
  }

  async eventsAfter(c: Queryable, revision: number, limit: number): Promise<EventRow[]> {
    const r = await c.query<PgEvent>(
      `SELECT revision, type, key, value, expires FROM ${this.events}
        WHERE revision > $1 ORDER BY revision LIMIT $2`,
      [revision, limit],
    );
    return r.rows.map((x) => ({ ...toRow(x), type: x.type }));
  }

  async trimEvents(c: Queryable, upTo: number): Promise<void> {
    if (upTo > 0) await c.query(`DELETE FROM ${this.events} WHERE revision <= $1`, [upTo]);
  }

  /**
   * Inside the write transaction: applies events to the items, appends them to
   * the history, moves the revision and notifies listeners (at commit).
   * Deletes are applied before puts: a batch never puts a key and then deletes it.
   */
  async persist(c: Queryable, events: readonly EventRow[]): Promise<void> {
    const last = events[events.length - 1];
    if (last === undefined) return;
    const deleted = events.filter((e) => e.type === "delete").map((e) => e.key);
    if (deleted.length > 0) await c.query(`DELETE FROM ${this.items} WHERE key = ANY($1::text[])`, [deleted]);
    for (const e of events) {
      if (e.type !== "put") continue;
      await c.query(
        `INSERT INTO ${this.items} (${COLS}) VALUES ($1, $2, $3, $4) ON CONFLICT (key) DO UPDATE
            SET value = excluded.value, expires = excluded.expires, revision = excluded.revision`,
        [e.key, e.value, e.expires, e.revision],
      );
    }
    await c.query(
      `INSERT INTO ${this.events} (revision, type, key, value, expires)
         SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bytea[], $5::bigint[])`,
      [events.map((e) => e.revision), events.map((e) => e.type), events.map((e) => e.key), events.map((e) => e.value), events.map((e) => e.expires)],
    );
    await c.query(`UPDATE ${this.meta} SET revision = $1 WHERE id = 1 RETURNING pg_notify($2, revision::text)`, [last.revision, this.channel]);
  }
}

function live(param: number): string {
  return LIVE.replace("$NOW", `$${param}`);
}

function toRow(x: PgItem): Row {
  return {
    key: x.key,
    value: x.value,
    expires: x.expires === null ? null : Number(x.expires),
    revision: Number(x.revision),
  };
}
