/** The SQLite schema and every prepared statement the sqlite backend uses. */
import type Database from "better-sqlite3";
import type { EventRow, Row } from "./plan.ts";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS items (
  key      TEXT PRIMARY KEY,
  value    BLOB NOT NULL,
  expires  INTEGER,
  revision INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS items_expires ON items (expires) WHERE expires IS NOT NULL;
CREATE TABLE IF NOT EXISTS events (
  revision INTEGER PRIMARY KEY,
  type     TEXT NOT NULL CHECK (type IN ('put', 'delete')),
  key      TEXT NOT NULL,
  value    BLOB NOT NULL,
  expires  INTEGER
);
CREATE TABLE IF NOT EXISTS meta (
  name  TEXT PRIMARY KEY,
  value INTEGER NOT NULL
);
INSERT OR IGNORE INTO meta (name, value) VALUES ('revision', 0), ('schema', 1);
`;

const ITEM = "key, value, expires, revision";
const LIVE = "(expires IS NULL OR expires > ?)";

type KeyExpiry = { key: string; expires: number | null };

export class SqliteStatements {
  readonly getRow: Database.Statement<[string], Row>;
  readonly range: Database.Statement<[string, string, number, number], Row>;
  readonly rangeOpen: Database.Statement<[string, number, number], Row>;
  readonly keys: Database.Statement<[string, string], KeyExpiry>;
  readonly keysOpen: Database.Statement<[string], KeyExpiry>;
  readonly expiredKeys: Database.Statement<[number, number], { key: string }>;
  readonly eventsAfter: Database.Statement<[number, number], EventRow>;
  readonly firstEvent: Database.Statement<[], { revision: number }>;
  readonly trimEvents: Database.Statement<[number]>;
  private readonly upsert: Database.Statement<[string, Buffer, number | null, number]>;
  private readonly deleteItem: Database.Statement<[string]>;
  private readonly insertEvent: Database.Statement<[number, string, string, Buffer, number | null]>;
  private readonly getRevision: Database.Statement<[], { value: number }>;
  private readonly setRevision: Database.Statement<[number]>;
  private readonly tx: Database.Transaction<(f: () => unknown) => unknown>;

  constructor(db: Database.Database) {
    db.exec(SCHEMA);
    this.getRow = db.prepare(`SELECT ${ITEM} FROM items WHERE key = ?`);
    this.range = db.prepare(`SELECT ${ITEM} FROM items WHERE key >= ? AND key < ? AND ${LIVE} ORDER BY key LIMIT ?`);
    this.rangeOpen = db.prepare(`SELECT ${ITEM} FROM items WHERE key >= ? AND ${LIVE} ORDER BY key LIMIT ?`);
    this.keys = db.prepare("SELECT key, expires FROM items WHERE key >= ? AND key < ? ORDER BY key");
    this.keysOpen = db.prepare("SELECT key, expires FROM items WHERE key >= ? ORDER BY key");
    this.expiredKeys = db.prepare("SELECT key FROM items WHERE expires IS NOT NULL AND expires <= ? ORDER BY key LIMIT ?");
    this.eventsAfter = db.prepare("SELECT revision, type, key, value, expires FROM events WHERE revision > ? ORDER BY revision LIMIT ?");
    this.firstEvent = db.prepare("SELECT revision FROM events ORDER BY revision LIMIT 1");
    this.trimEvents = db.prepare("DELETE FROM events WHERE revision <= ?");
    this.upsert = db.prepare(
      `INSERT INTO items (${ITEM}) VALUES (?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET
         value = excluded.value, expires = excluded.expires, revision = excluded.revision`,
    );
    this.deleteItem = db.prepare("DELETE FROM items WHERE key = ?");
    this.insertEvent = db.prepare("INSERT INTO events (revision, type, key, value, expires) VALUES (?, ?, ?, ?, ?)");
    this.getRevision = db.prepare("SELECT value FROM meta WHERE name = 'revision'");
    this.setRevision = db.prepare("UPDATE meta SET value = ? WHERE name = 'revision'");
    this.tx = db.transaction((f: () => unknown) => f());
  }

  /** Runs f in one IMMEDIATE transaction (the write lock is taken up front). */
  inTx<T>(f: () => T): T {
    return this.tx.immediate(f) as T;
  }

  readRevision(): number {
    return this.getRevision.get()?.value ?? 0;
  }

  /** Applies events to the items, appends them to the history and moves the revision. */
  persist(events: readonly EventRow[]): void {
    let last: number | undefined;
    for (const ev of events) {
      if (ev.type === "put") this.upsert.run(ev.key, ev.value, ev.expires, ev.revision);
      else this.deleteItem.run(ev.key);
      this.insertEvent.run(ev.revision, ev.type, ev.key, ev.value, ev.expires);
      last = ev.revision;
    }
    if (last !== undefined) this.setRevision.run(last);
  }
}
