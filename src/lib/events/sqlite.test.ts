import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import Database from "better-sqlite3";
import { auditLogContract } from "./contract.test-suite.ts";
import { SqliteAuditLog } from "./sqlite.ts";

auditLogContract("sqlite", async (clock) => {
  const dir = await mkdtemp(join(tmpdir(), "jg-events-"));
  const path = join(dir, "sub", "events.db");
  const log = new SqliteAuditLog({ path, clock });
  return {
    log,
    reopen: async () => new SqliteAuditLog({ path, clock }),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

test("the file is in WAL mode and rows cannot be updated", async () => {
  const dir = await mkdtemp(join(tmpdir(), "jg-events-"));
  try {
    const path = join(dir, "events.db");
    const log = new SqliteAuditLog({ path });
    await log.emit({ event: "exec", user: "alice" });
    const raw = new Database(path);
    assert.equal(raw.pragma("journal_mode", { simple: true }), "wal");
    assert.throws(() => raw.prepare("UPDATE events SET username = 'eve'").run(), /append-only/);
    raw.close();
    await log.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("group commit: one transaction per turn, each emit resolves after its commit, in order", async () => {
  const dir = await mkdtemp(join(tmpdir(), "jg-events-"));
  try {
    const path = join(dir, "events.db");
    const log = new SqliteAuditLog({ path });
    const internals = log as unknown as { insertBatch: (rows: readonly unknown[]) => void };
    const batches: number[] = [];
    const inner = internals.insertBatch;
    internals.insertBatch = (rows) => {
      batches.push(rows.length);
      inner(rows);
    };
    const raw = new Database(path, { readonly: true });
    const count = () => (raw.prepare("SELECT count(*) AS n FROM events").get() as { n: number }).n;
    const seen: number[] = [];
    await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        log.emit({ event: "exec", user: `u${i}`, command: String(i) }).then(() => {
          // Committed before the promise resolves: another connection already sees it.
          seen.push(count());
        }),
      ),
    );
    assert.deepEqual(batches, [200]);
    assert.ok(seen.every((n) => n === 200));
    const { events } = await log.search({ from: new Date(0), to: new Date("2100-01-01T00:00:00Z"), order: "asc", limit: 1000 });
    assert.deepEqual(
      events.map((e) => e.command),
      Array.from({ length: 200 }, (_, i) => String(i)),
    );
    await log.emit({ event: "exec", user: "later" });
    assert.deepEqual(batches, [200, 1]);
    raw.close();
    await log.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("group commit: an event the database refuses fails alone; close flushes; emit after close fails", async () => {
  const dir = await mkdtemp(join(tmpdir(), "jg-events-"));
  try {
    const path = join(dir, "events.db");
    const log = new SqliteAuditLog({ path });
    const raw = new Database(path);
    raw.exec("CREATE TRIGGER refuse BEFORE INSERT ON events WHEN NEW.username = 'mallory' BEGIN SELECT RAISE(ABORT, 'refused'); END;");
    const results = await Promise.allSettled([
      log.emit({ event: "exec", user: "alice" }),
      log.emit({ event: "exec", user: "mallory" }),
      log.emit({ event: "exec", user: "bob" }),
    ]);
    assert.deepEqual(
      results.map((r) => r.status),
      ["fulfilled", "rejected", "fulfilled"],
    );
    const users = () => (raw.prepare("SELECT username FROM events ORDER BY seq").all() as { username: string }[]).map((r) => r.username);
    assert.deepEqual(users(), ["alice", "bob"]);
    const pending = log.emit({ event: "exec", user: "carol" });
    await log.close();
    await pending;
    assert.deepEqual(users(), ["alice", "bob", "carol"]);
    await assert.rejects(log.emit({ event: "exec", user: "dave" }), /closed/);
    raw.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
