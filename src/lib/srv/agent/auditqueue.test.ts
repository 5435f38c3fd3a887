import assert from "node:assert/strict";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import pino from "pino";
import { type AgentEvent, AuditQueue } from "./auditqueue.ts";

const log = pino({ level: "silent" });
const spool = () => join(mkdtempSync(join(tmpdir(), "jg-auditq-")), "events.jsonl");
const lines = (path: string) =>
  readFileSync(path, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "");

test("a burst of events reaches Auth in batches of concurrent sends, each once, and the spool empties", async () => {
  const path = spool();
  const got: AgentEvent[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const q = new AuditQueue({
    path,
    log,
    send: async (e) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((r) => setTimeout(r, 1));
      inFlight--;
      got.push(e);
    },
  });
  for (let i = 0; i < 1000; i++) q.emit({ event: "db.session.query", n: i });
  await q.close();
  assert.equal(got.length, 1000);
  assert.deepEqual(new Set(got.map((e) => e.n)).size, 1000);
  assert.ok(maxInFlight > 1 && maxInFlight <= 64, `max in flight ${maxInFlight}`);
  assert.equal(q.size(), 0);
  assert.deepEqual(lines(path), []);
});

test("events Auth did not confirm stay spooled and are sent after a restart", async () => {
  const path = spool();
  let up = false;
  const got: AgentEvent[] = [];
  const send = async (e: AgentEvent) => {
    if (!up) throw new Error("Auth unreachable");
    got.push(e);
  };
  const q = new AuditQueue({ path, log, send, retryMs: 60_000 });
  for (let i = 0; i < 5; i++) q.emit({ event: "exec", n: i });
  await q.close();
  assert.equal(q.size(), 5);
  assert.equal(lines(path).length, 5);

  up = true;
  const again = new AuditQueue({ path, log, send, retryMs: 60_000 });
  await again.close();
  assert.deepEqual(
    got.map((e) => e.n),
    [0, 1, 2, 3, 4],
  );
  assert.deepEqual(lines(path), []);
});
