import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { FakeClock } from "../../api/clock.ts";
import { backendContract } from "./contract.test-suite.ts";
import { show, take } from "./contract-helpers.test-suite.ts";
import { SqliteBackend } from "./sqlite.ts";

const dir = mkdtempSync(join(tmpdir(), "jumpgate-sqlite-"));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

backendContract("sqlite", async (opts) => {
  const clock = new FakeClock();
  const backend = new SqliteBackend({ path: join(dir, `contract-${n++}.db`), clock, ...opts });
  return { backend, clock, cleanup: async () => undefined };
});

describe("sqlite backend", () => {
  it("keeps items, revisions and history across a reopen", async () => {
    const path = join(dir, "nested", "reopen.db");
    const clock = new FakeClock();
    const a = new SqliteBackend({ path, clock });
    const put = await a.put({ key: "/k", value: Buffer.from("v") });
    await a.close();
    const b = new SqliteBackend({ path, clock });
    try {
      assert.deepEqual(await b.get("/k"), put);
      assert.equal(await b.currentRevision(), put.revision);
      const next = await b.put({ key: "/k2", value: Buffer.from("w") });
      assert.equal(next.revision, put.revision + 1);
      const w = b.watch({ prefixes: ["/"], fromRevision: 0 });
      assert.deepEqual(show(await take(w, 2)), ["put /k", "put /k2"]);
      w.close();
    } finally {
      await b.close();
    }
  });

  it("passes writes by another process sharing the file to watchers", async () => {
    const path = join(dir, "shared.db");
    const clock = new FakeClock();
    const a = new SqliteBackend({ path, clock, pollIntervalMs: 20 });
    const b = new SqliteBackend({ path, clock, pollIntervalMs: 20 });
    try {
      const w = a.watch({ prefixes: ["/s/"] });
      await b.put({ key: "/s/1", value: Buffer.from("1") });
      await a.put({ key: "/s/2", value: Buffer.from("2") });
      await b.put({ key: "/s/3", value: Buffer.from("3") });
      // take() holds a timer, which keeps the process up while the poll (an unref()ed timer) runs.
      assert.deepEqual(show(await take(w, 3)), ["put /s/1", "put /s/2", "put /s/3"]);
      w.close();
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("refuses a bad synchronous mode", () => {
    assert.throws(() => new SqliteBackend({ path: join(dir, "x.db"), synchronous: "off" as "full" }), /synchronous/);
  });
});
