import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { FakeClock } from "../../api/clock.ts";
import { auditLogContract } from "./contract.test-suite.ts";
import { auditConfigFromUris, openAuditLog } from "./index.ts";
import { JsonlSink } from "./jsonl.ts";
import { MemoryAuditLog } from "./memory.ts";
import { MultiAuditLog } from "./multi.ts";
import type { AuditEvent, AuditSink } from "./types.ts";

auditLogContract("multi (memory + jsonl)", async (clock) => {
  const dir = await mkdtemp(join(tmpdir(), "jg-events-"));
  const sink = await JsonlSink.open({ path: join(dir, "audit.jsonl") });
  const log = new MultiAuditLog({ primary: new MemoryAuditLog({ clock }), sinks: [sink], clock });
  return { log, cleanup: () => rm(dir, { recursive: true, force: true }) };
});

test("the JSON-lines file holds the same events as the primary, one per line", async () => {
  const dir = await mkdtemp(join(tmpdir(), "jg-events-"));
  try {
    const clock = new FakeClock();
    const path = join(dir, "export", "audit.jsonl");
    const log = await openAuditLog({ type: "sqlite", path: join(dir, "events.db") }, { clock, jsonlPaths: [path], cluster: "example" });
    await Promise.all([log.emit({ event: "user.login", user: "alice", password: "nope" }), log.emit({ event: "session.start", user: "alice", sid: "s1" })]);
    await log.close();
    const lines = (await readFile(path, "utf8")).trimEnd().split("\n");
    assert.equal(lines.length, 2);
    const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(parsed.map((p) => p.event).sort(), ["session.start", "user.login"]);
    assert.equal(parsed[0]?.time, clock.now().toISOString());
    assert.deepEqual(
      parsed.map((p) => p.cluster),
      ["example", "example"],
    );
    assert.doesNotMatch(lines.join("\n"), /nope/);

    const reopened = await openAuditLog({ type: "sqlite", path: join(dir, "events.db") });
    const stored = await reopened.search({ from: new Date(0), to: clock.now() });
    assert.deepEqual(stored.events.map((e) => e.uid).sort(), parsed.map((p) => p.uid).sort());
    await reopened.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("a failing sink is reported but the event stays in the primary", async () => {
  const failures: unknown[] = [];
  const broken: AuditSink = {
    write: async () => {
      throw new Error("disk full");
    },
    close: async () => {},
  };
  const primary = new MemoryAuditLog();
  const log = new MultiAuditLog({
    primary,
    sinks: [broken],
    onSinkError: (e: unknown, _ev: AuditEvent) => failures.push(e),
  });
  await log.emit({ event: "exec", user: "bob" });
  assert.equal(failures.length, 1);
  const r = await log.search({ from: new Date(0), to: new Date(Date.now() + 1000) });
  assert.equal(r.events.length, 1);
  await log.close();
});

test("audit_events_uri entries choose the store and export files", () => {
  assert.deepEqual(auditConfigFromUris([], "/var/lib/jumpgate"), {
    store: { type: "sqlite", path: "/var/lib/jumpgate/events.db" },
    jsonlPaths: [],
  });
  assert.deepEqual(auditConfigFromUris(["postgres://db/audit", "jsonl:///var/log/jg.jsonl"], "/d"), {
    store: { type: "postgres", connString: "postgres://db/audit" },
    jsonlPaths: ["/var/log/jg.jsonl"],
  });
  assert.deepEqual(auditConfigFromUris(["sqlite:///x/e.db", "file:///y.jsonl"], "/d").store, {
    type: "sqlite",
    path: "/x/e.db",
  });
  assert.throws(() => auditConfigFromUris(["sqlite://", "memory://"], "/d"), /more than one/);
  assert.throws(() => auditConfigFromUris(["s3://bucket"], "/d"), /unsupported/);
});
