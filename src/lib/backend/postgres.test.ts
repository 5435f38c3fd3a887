import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { createThrowawayDatabase, type ThrowawayDatabase } from "../../../test/harness/postgres.ts";
import { FakeClock } from "../../api/clock.ts";
import { backendContract } from "./contract.test-suite.ts";
import { show, take } from "./contract-helpers.test-suite.ts";
import { PostgresBackend, type PostgresBackendOptions } from "./postgres.ts";

describe("postgres backend", () => {
  let db: ThrowawayDatabase | undefined;
  let schemas = 0;
  before(async () => {
    db = await createThrowawayDatabase();
  });
  after(async () => {
    await db?.drop();
  });

  /** Opens a backend in a fresh schema (or the given one) of the throwaway database. */
  const open = (opts: Partial<PostgresBackendOptions> = {}) => {
    if (db === undefined) throw new Error("no database");
    return PostgresBackend.open({ connString: db.connString, schema: `s${schemas++}`, pollIntervalMs: 200, ...opts });
  };

  backendContract("postgres", async (opts) => {
    const clock = new FakeClock();
    const backend = await open({ clock, ...opts });
    return { backend, clock, cleanup: async () => undefined };
  });

  describe("several processes on one database", () => {
    it("see each other's writes through watch, with one revision sequence", async () => {
      const clock = new FakeClock();
      const a = await open({ clock, schema: "shared1" });
      const b = await open({ clock, schema: "shared1" });
      try {
        const wa = a.watch({ prefixes: ["/p/"] });
        const wb = b.watch({ prefixes: ["/p/"] });
        const writes = await Promise.all(
          Array.from({ length: 100 }, (_, i) => (i % 2 === 0 ? a : b).put({ key: `/p/${String(i).padStart(3, "0")}`, value: Buffer.from(String(i)) })),
        );
        const revs = writes.map((w) => w.revision).sort((x, y) => x - y);
        assert.equal(new Set(revs).size, 100);
        const seenA = await take(wa, 100);
        const seenB = await take(wb, 100);
        assert.deepEqual(
          seenA.map((e) => e.item.revision),
          revs,
        );
        assert.deepEqual(show(seenB), show(seenA));
        assert.equal(await a.currentRevision(), await b.currentRevision());
        wa.close();
        wb.close();
      } finally {
        await a.close();
        await b.close();
      }
    });

    it("resume from a revision written by the other process, and sweep expiry once", async () => {
      const clock = new FakeClock();
      const a = await open({ clock, schema: "shared2", sweepIntervalMs: 0 });
      const b = await open({ clock, schema: "shared2", sweepIntervalMs: 0 });
      try {
        const r0 = await a.currentRevision();
        await a.put({ key: "/t/a", value: Buffer.from("a"), expires: new Date(clock.now().getTime() + 1000) });
        await b.put({ key: "/t/b", value: Buffer.from("b") });
        const w = b.watch({ prefixes: ["/t/"], fromRevision: r0 });
        assert.deepEqual(show(await take(w, 2)), ["put /t/a", "put /t/b"]);
        clock.advance(1000);
        const swept = await Promise.all([a.sweepExpired(), b.sweepExpired(), a.sweepExpired()]);
        assert.equal(
          swept.reduce((x, y) => x + y, 0),
          1,
        );
        await a.put({ key: "/t/end", value: Buffer.from("end") });
        assert.deepEqual(show(await take(w, 2)), ["delete /t/a", "put /t/end"]);
        w.close();
      } finally {
        await a.close();
        await b.close();
      }
    });

    it("keep feeding watchers when the LISTEN connection is killed", async () => {
      if (db === undefined) throw new Error("no database");
      const a = await open({ schema: "shared3", pollIntervalMs: 100 });
      const b = await open({ schema: "shared3" });
      const admin = new pg.Client({ connectionString: db.connString });
      await admin.connect();
      try {
        const w = a.watch({ prefixes: ["/l/"] });
        const killed = await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN %'");
        assert.ok((killed.rowCount ?? 0) >= 1);
        await b.put({ key: "/l/1", value: Buffer.from("1") });
        await b.put({ key: "/l/2", value: Buffer.from("2") });
        assert.deepEqual(show(await take(w, 2)), ["put /l/1", "put /l/2"]);
        w.close();
      } finally {
        await admin.end();
        await a.close();
        await b.close();
      }
    });
  });

  it("fails to open with connection-problem when the server is unreachable", async () => {
    await assert.rejects(
      PostgresBackend.open({ connString: "postgres://nobody@127.0.0.1:1/none" }),
      (e: unknown) => e instanceof Error && "kind" in e && e.kind === "connection-problem",
    );
  });
});
