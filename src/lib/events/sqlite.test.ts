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
