/**
 * The one test suite every AuditLog implementation passes (STYLE §3). Each
 * implementation's test file calls `auditLogContract` with a factory.
 */
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, test } from "node:test";
import { FakeClock } from "../../api/clock.ts";
import { isJumpgateError } from "../../api/errors.ts";
import { UNKNOWN_EVENT_CODE } from "./codes.ts";
import { secretFingerprint } from "./redact.ts";
import type { AuditEvent, AuditLog, SearchQuery } from "./types.ts";

export interface AuditLogHarness {
  log: AuditLog;
  /** Opens the log again on the same storage (the suite closes the old one first); absent when not durable. */
  reopen?: () => Promise<AuditLog>;
  /** Called after the log is closed. */
  cleanup?: () => Promise<void>;
}

const T0 = new Date("2026-03-01T12:00:00.000Z");
const ALL = { from: new Date(0), to: new Date("2100-01-01T00:00:00Z") };

async function searchAll(log: AuditLog, q: Partial<SearchQuery>, pageSize: number): Promise<AuditEvent[]> {
  const out: AuditEvent[] = [];
  let startKey: string | undefined;
  for (let pages = 0; pages < 1000; pages++) {
    const r = await log.search({ ...ALL, ...q, limit: pageSize, ...(startKey === undefined ? {} : { startKey }) });
    assert.ok(r.events.length <= pageSize);
    out.push(...r.events);
    if (r.nextKey === undefined) return out;
    startKey = r.nextKey;
  }
  throw new Error("paging did not end");
}

export function auditLogContract(name: string, make: (clock: FakeClock) => Promise<AuditLogHarness>): void {
  describe(`AuditLog contract: ${name}`, () => {
    let clock: FakeClock;
    let h: AuditLogHarness;
    let log: AuditLog;

    beforeEach(async () => {
      clock = new FakeClock(T0);
      h = await make(clock);
      log = h.log;
    });
    afterEach(async () => {
      await log.close();
      await h.cleanup?.();
    });

    test("emit fills uid, time and code, and search returns the event", async () => {
      await log.emit({ event: "user.create", user: "admin", cluster: "example", name: "alice", roles: ["dev"] });
      const { events, nextKey } = await log.search(ALL);
      assert.equal(nextKey, undefined);
      assert.equal(events.length, 1);
      const e = events[0];
      assert.ok(e);
      assert.equal(e.event, "user.create");
      assert.equal(e.code, "T1002I");
      assert.match(e.uid, /^[0-9a-f-]{36}$/);
      assert.ok(e.time instanceof Date);
      assert.equal(e.time.getTime(), T0.getTime());
      assert.equal(e.user, "admin");
      assert.equal(e.cluster, "example");
      assert.equal(e.name, "alice");
      assert.deepEqual(e.roles, ["dev"]);
    });

    test("failure and per-action codes, given time and uid are kept", async () => {
      const uid = "0d9a6c2e-5d2b-4e9a-9a57-2f0c1f3b8a11";
      await log.emit({ event: "user.login", success: false, user: "bob", error: "bad password", uid });
      await log.emit({ event: "scp", action: "upload", user: "bob", time: "2026-03-01T11:00:00.000Z" });
      const { events } = await log.search({ ...ALL, order: "asc" });
      assert.deepEqual(
        events.map((e) => [e.event, e.code, e.time.toISOString()]),
        [
          ["scp", "T3005I", "2026-03-01T11:00:00.000Z"],
          ["user.login", "T1000W", T0.toISOString()],
        ],
      );
      assert.equal(events[1]?.uid, uid);
      assert.equal(events[1]?.success, false);
      assert.equal(events[1]?.error, "bad password");
    });

    test("unknown names keep a given code or get the unknown code; bad input is refused", async () => {
      await log.emit({ event: "custom.thing", code: "X0001I", user: "u" });
      await log.emit({ event: "other.thing", user: "u" });
      const { events } = await log.search(ALL);
      assert.deepEqual(events.map((e) => e.code).sort(), [UNKNOWN_EVENT_CODE, "X0001I"].sort());
      await assert.rejects(log.emit({ event: "exec", uid: "not-a-uuid" }), (e) => isJumpgateError(e, "bad-parameter"));
      await assert.rejects(log.emit({ event: "exec", time: "yesterday" }), (e) => isJumpgateError(e, "bad-parameter"));
    });

    test("search by inclusive time range", async () => {
      for (let i = 0; i < 5; i++) {
        await log.emit({ event: "exec", user: "alice", command: `cmd${i}` });
        clock.advance(1000);
      }
      const r = await log.search({ from: new Date(T0.getTime() + 1000), to: new Date(T0.getTime() + 3000) });
      assert.deepEqual(
        r.events.map((e) => e.command),
        ["cmd1", "cmd2", "cmd3"],
      );
      const none = await log.search({ from: new Date(T0.getTime() + 10_000), to: new Date(T0.getTime() + 20_000) });
      assert.equal(none.events.length, 0);
    });

    test("type and user filters", async () => {
      await log.emit({ event: "session.start", user: "alice" });
      await log.emit({ event: "exec", user: "alice" });
      await log.emit({ event: "exec", user: "bob" });
      await log.emit({ event: "session.end", user: "bob" });
      const types = await log.search({ ...ALL, types: ["session.start", "session.end"] });
      assert.deepEqual(types.events.map((e) => `${e.event}/${e.user}`).sort(), ["session.end/bob", "session.start/alice"]);
      const bob = await log.search({ ...ALL, user: "bob" });
      assert.deepEqual(bob.events.map((e) => e.event).sort(), ["exec", "session.end"]);
      const both = await log.search({ ...ALL, user: "alice", types: ["exec"] });
      assert.equal(both.events.length, 1);
      const empty = await log.search({ ...ALL, types: [] });
      assert.equal(empty.events.length, 4);
    });

    test("order asc and desc, ties broken by emit order", async () => {
      for (let i = 0; i < 3; i++) await log.emit({ event: "exec", n: i });
      clock.advance(1);
      await log.emit({ event: "exec", n: 3 });
      const asc = await log.search({ ...ALL, order: "asc" });
      assert.deepEqual(
        asc.events.map((e) => e.n),
        [0, 1, 2, 3],
      );
      const desc = await log.search({ ...ALL, order: "desc" });
      assert.deepEqual(
        desc.events.map((e) => e.n),
        [3, 2, 1, 0],
      );
    });

    test("paging walks every event once, in both orders, with equal timestamps", async () => {
      for (let i = 0; i < 25; i++) {
        await log.emit({ event: "db.session.query", user: "alice", n: i });
        if (i % 4 === 3) clock.advance(1000);
      }
      const asc = await searchAll(log, { order: "asc" }, 10);
      assert.deepEqual(
        asc.map((e) => e.n),
        Array.from({ length: 25 }, (_, i) => i),
      );
      const desc = await searchAll(log, { order: "desc" }, 7);
      assert.deepEqual(
        desc.map((e) => e.n),
        Array.from({ length: 25 }, (_, i) => 24 - i),
      );
      const first = await log.search({ ...ALL, limit: 10 });
      assert.equal(first.events.length, 10);
      assert.ok(first.nextKey);
    });

    test("a page that ends exactly at the last event has no nextKey", async () => {
      for (let i = 0; i < 20; i++) await log.emit({ event: "exec", n: i });
      const p1 = await log.search({ ...ALL, limit: 10 });
      assert.ok(p1.nextKey);
      const p2 = await log.search({ ...ALL, limit: 10, startKey: p1.nextKey });
      assert.equal(p2.events.length, 10);
      assert.equal(p2.nextKey, undefined);
    });

    test("bad queries are bad-parameter errors", async () => {
      const bad = (e: unknown) => isJumpgateError(e, "bad-parameter");
      await assert.rejects(log.search({ ...ALL, startKey: "!!garbage" }), bad);
      await assert.rejects(log.search({ ...ALL, limit: 0 }), bad);
      await assert.rejects(log.search({ from: new Date(Number.NaN), to: new Date() }), bad);
    });

    test("secrets never reach the log", async () => {
      await log.emit({
        event: "join",
        success: false,
        token: "abcdef0123456789abcdef0123456789",
        password: "hunter2",
        details: { otp: "123456", private_key: "-----BEGIN", ok: "kept" },
      });
      const [e] = (await log.search(ALL)).events;
      assert.ok(e);
      assert.equal(e.code, "TJ002E");
      assert.equal(e.password, undefined);
      assert.equal(e.token, secretFingerprint("abcdef0123456789abcdef0123456789"));
      assert.deepEqual(e.details, { ok: "kept" });
      assert.doesNotMatch(JSON.stringify(e), /hunter2|123456|BEGIN|abcdef0123456789abcdef/);
    });

    test("the same uid is stored once, and later changes to the input do not leak in", async () => {
      const input = { event: "role.created", uid: "6f1c9c9e-8c51-4a6d-9d55-6f1b1c0f0a77", name: "dev", tags: ["a"] };
      await log.emit(input);
      input.name = "changed";
      input.tags.push("b");
      await log.emit(input);
      const { events } = await log.search(ALL);
      assert.equal(events.length, 1);
      assert.equal(events[0]?.name, "dev");
      assert.deepEqual(events[0]?.tags, ["a"]);
    });

    test("events survive close and reopen", async (t) => {
      const reopen = h.reopen;
      if (reopen === undefined) {
        // Not t.skip(): on Node 20 a skipped test does not run afterEach, which would leak the harness.
        t.diagnostic("storage is not durable; nothing to check");
        return;
      }
      await log.emit({ event: "lock.created", user: "admin", target: "user:mallory" });
      await log.close();
      log = await reopen();
      const { events } = await log.search(ALL);
      assert.deepEqual(
        events.map((e) => [e.event, e.code, e.target]),
        [["lock.created", "TLK00I", "user:mallory"]],
      );
    });
  });
}
