/**
 * The one test suite every backend passes (STYLE §3). Each implementation's test
 * file calls backendContract with a factory that opens a fresh, empty backend.
 * This file covers reads and writes; contract-watch.test-suite.ts covers
 * watching, expiry and concurrency.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isJumpgateError } from "../../api/errors.ts";
import { buf, type MakeBackend, rejectsWith, type WithBackend } from "./contract-helpers.test-suite.ts";
import { watchContract } from "./contract-watch.test-suite.ts";

export type { ContractOptions, ContractSubject, MakeBackend } from "./contract-helpers.test-suite.ts";

export function backendContract(name: string, makeBackend: MakeBackend): void {
  const withBackend: WithBackend = (title, fn, opts = {}) =>
    it(title, async () => {
      const s = await makeBackend(opts);
      try {
        await fn(s);
      } finally {
        await s.backend.close();
        await s.cleanup();
      }
    });

  describe(`backend contract: ${name}`, () => {
    crudContract(withBackend);
    rangeContract(withBackend);
    watchContract(withBackend);
  });
}

function crudContract(t: WithBackend): void {
  t("put then get round-trips an item; a missing key reads as undefined", async ({ backend }) => {
    assert.equal(await backend.get("/a"), undefined);
    const first = await backend.put({ key: "/a", value: buf("1") });
    assert.equal(first.key, "/a");
    assert.deepEqual(first.value, buf("1"));
    assert.equal(first.expires, undefined);
    assert.ok(first.revision > 0);
    assert.deepEqual(await backend.get("/a"), first);
    const second = await backend.put({ key: "/a", value: buf("2") });
    assert.ok(second.revision > first.revision);
    assert.deepEqual(await backend.get("/a"), second);
  });

  t("create fails with already-exists when the key is present", async ({ backend }) => {
    await backend.create({ key: "/c", value: buf("x") });
    await rejectsWith(backend.create({ key: "/c", value: buf("y") }), "already-exists");
    assert.deepEqual((await backend.get("/c"))?.value, buf("x"));
    await backend.delete("/c");
    const again = await backend.create({ key: "/c", value: buf("z") });
    assert.deepEqual((await backend.get("/c"))?.value, buf("z"));
    assert.equal((await backend.get("/c"))?.revision, again.revision);
  });

  t("update fails with not-found when the key is absent", async ({ backend }) => {
    await rejectsWith(backend.update({ key: "/u", value: buf("1") }), "not-found");
    assert.equal(await backend.get("/u"), undefined);
    const p = await backend.put({ key: "/u", value: buf("1") });
    const u = await backend.update({ key: "/u", value: buf("2") });
    assert.ok(u.revision > p.revision);
    assert.deepEqual(await backend.get("/u"), u);
  });

  t("compareAndSwap by revision replaces only an unchanged item", async ({ backend }) => {
    const v1 = await backend.put({ key: "/cas", value: buf("1") });
    const v2 = await backend.compareAndSwap({ key: "/cas", revision: v1.revision }, { key: "/cas", value: buf("2") });
    assert.ok(v2.revision > v1.revision);
    await rejectsWith(backend.compareAndSwap({ key: "/cas", revision: v1.revision }, { key: "/cas", value: buf("3") }), "compare-failed");
    assert.deepEqual(await backend.get("/cas"), v2);
  });

  t("compareAndSwap by value replaces only an item holding that value", async ({ backend }) => {
    const v1 = await backend.put({ key: "/cas", value: buf("old") });
    await rejectsWith(backend.compareAndSwap({ key: "/cas", value: buf("other") }, { key: "/cas", value: buf("x") }), "compare-failed");
    await rejectsWith(
      backend.compareAndSwap({ key: "/cas", value: buf("old"), revision: v1.revision + 1000 }, { key: "/cas", value: buf("x") }),
      "compare-failed",
    );
    const v2 = await backend.compareAndSwap({ key: "/cas", value: buf("old") }, { key: "/cas", value: buf("new") });
    assert.deepEqual(await backend.get("/cas"), v2);
    assert.deepEqual(v2.value, buf("new"));
  });

  t("compareAndSwap on a missing key fails; bad expectations are bad parameters", async ({ backend }) => {
    await rejectsWith(backend.compareAndSwap({ key: "/none", revision: 1 }, { key: "/none", value: buf("x") }), "compare-failed");
    await backend.put({ key: "/k", value: buf("v") });
    await rejectsWith(backend.compareAndSwap({ key: "/k" }, { key: "/k", value: buf("x") }), "bad-parameter");
    await rejectsWith(backend.compareAndSwap({ key: "/k", value: buf("v") }, { key: "/other", value: buf("x") }), "bad-parameter");
    assert.equal(await backend.get("/none"), undefined);
  });

  t("delete removes an item and fails with not-found when absent", async ({ backend }) => {
    await rejectsWith(backend.delete("/d"), "not-found");
    const p = await backend.put({ key: "/d", value: buf("x") });
    await backend.delete("/d");
    assert.equal(await backend.get("/d"), undefined);
    assert.ok((await backend.currentRevision()) > p.revision);
    await rejectsWith(backend.delete("/d"), "not-found");
  });

  t("keepAlive moves the expiry, keeps the value and bumps the revision", async ({ backend, clock }) => {
    await rejectsWith(backend.keepAlive("/ka", new Date(clock.now().getTime() + 1000)), "not-found");
    const p = await backend.put({ key: "/ka", value: buf("v") });
    const exp = new Date(clock.now().getTime() + 60_000);
    const k = await backend.keepAlive("/ka", exp);
    assert.ok(k.revision > p.revision);
    assert.deepEqual(k.value, buf("v"));
    assert.deepEqual(k.expires, exp);
    assert.deepEqual(await backend.get("/ka"), k);
    const forever = await backend.keepAlive("/ka", undefined);
    assert.equal(forever.expires, undefined);
    assert.equal((await backend.get("/ka"))?.expires, undefined);
  });

  t("revisions increase with every write and currentRevision follows them", async ({ backend }) => {
    const start = await backend.currentRevision();
    const seen: number[] = [];
    seen.push((await backend.put({ key: "/r/1", value: buf("a") })).revision);
    seen.push((await backend.create({ key: "/r/2", value: buf("b") })).revision);
    seen.push((await backend.update({ key: "/r/1", value: buf("c") })).revision);
    seen.push((await backend.keepAlive("/r/2", undefined)).revision);
    assert.equal(await backend.currentRevision(), seen[seen.length - 1]);
    await backend.delete("/r/1");
    const afterDelete = await backend.currentRevision();
    await backend.deleteRange({ prefix: "/r/" });
    const afterRange = await backend.currentRevision();
    assert.ok(seen.every((r, i) => r > (i === 0 ? start : (seen[i - 1] ?? 0))));
    assert.ok(afterDelete > (seen[seen.length - 1] ?? 0));
    assert.ok(afterRange > afterDelete);
  });

  t("binary values round-trip byte for byte, and callers' buffers are not shared", async ({ backend }) => {
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const big = Buffer.alloc(1 << 20);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7919) & 0xff;
    const input = Buffer.from(all);
    await backend.put({ key: "/bin/all", value: input });
    input.fill(0);
    await backend.put({ key: "/bin/empty", value: Buffer.alloc(0) });
    await backend.put({ key: "/bin/big", value: big });
    assert.deepEqual((await backend.get("/bin/all"))?.value, all);
    assert.deepEqual((await backend.get("/bin/empty"))?.value, Buffer.alloc(0));
    const got = await backend.get("/bin/big");
    assert.ok(got !== undefined);
    assert.ok(got.value.equals(big));
    const range = await backend.getRange({ prefix: "/bin/" });
    assert.deepEqual(
      range.map((i) => i.value.length),
      [256, 1 << 20, 0],
    );
    got.value.fill(1);
    assert.ok((await backend.get("/bin/big"))?.value.equals(big));
  });

  t("invalid keys, ranges and limits are bad parameters", async ({ backend }) => {
    await rejectsWith(backend.get(""), "bad-parameter");
    await rejectsWith(backend.put({ key: "", value: buf("x") }), "bad-parameter");
    await rejectsWith(backend.put({ key: "/nul\u0000", value: buf("x") }), "bad-parameter");
    await rejectsWith(backend.put({ key: "/k", value: buf("x"), expires: new Date(Number.NaN) }), "bad-parameter");
    await rejectsWith(backend.getRange({ prefix: "/", limit: 0 }), "bad-parameter");
    assert.throws(
      () => backend.watch({ prefixes: [], fromRevision: -1 }),
      (e: unknown) => isJumpgateError(e, "bad-parameter"),
    );
  });

  t("a closed backend refuses work with connection-problem", async ({ backend }) => {
    await backend.put({ key: "/x", value: buf("1") });
    await backend.close();
    await rejectsWith(backend.get("/x"), "connection-problem");
    await rejectsWith(backend.put({ key: "/x", value: buf("2") }), "connection-problem");
    await backend.close();
  });
}

function rangeContract(t: WithBackend): void {
  t("getRange by prefix returns live items in key order, up to the limit", async ({ backend }) => {
    for (const k of ["/k/c", "/k/a", "/kx/a", "/k", "/k/b/1", "/k/b", "/j/z"]) {
      await backend.put({ key: k, value: buf(k) });
    }
    const keys = async (q: Parameters<typeof backend.getRange>[0]) => (await backend.getRange(q)).map((i) => i.key);
    assert.deepEqual(await keys({ prefix: "/k/" }), ["/k/a", "/k/b", "/k/b/1", "/k/c"]);
    assert.deepEqual(await keys({ prefix: "/k/", limit: 2 }), ["/k/a", "/k/b"]);
    assert.deepEqual(await keys({ prefix: "/k" }), ["/k", "/k/a", "/k/b", "/k/b/1", "/k/c", "/kx/a"]);
    assert.deepEqual(await keys({ prefix: "/none/" }), []);
    const items = await backend.getRange({ prefix: "/k/b" });
    assert.deepEqual(
      items.map((i) => i.value.toString()),
      ["/k/b", "/k/b/1"],
    );
  });

  t("getRange by start..end is half-open and honours the limit", async ({ backend }) => {
    for (const k of ["/r/e", "/r/a", "/r/c", "/r/b", "/r/d"]) await backend.put({ key: k, value: buf(k) });
    const keys = async (q: Parameters<typeof backend.getRange>[0]) => (await backend.getRange(q)).map((i) => i.key);
    assert.deepEqual(await keys({ start: "/r/b", end: "/r/d" }), ["/r/b", "/r/c"]);
    assert.deepEqual(await keys({ start: "/r/b", end: "/r/z", limit: 2 }), ["/r/b", "/r/c"]);
    assert.deepEqual(await keys({ start: "/r/c", end: "/r/c" }), []);
    assert.deepEqual(await keys({ start: "", end: "/r/b" }), ["/r/a"]);
  });

  t("keys sort by code point (UTF-8 byte) order in every backend", async ({ backend }) => {
    const sorted = ["/u/A", "/u/a", "/u/z", "/u/\u00e9", "/u/\u4e2d", "/u/\ufffd", "/u/\u{1f600}"];
    for (const k of [...sorted].reverse()) await backend.put({ key: k, value: buf(k) });
    assert.deepEqual(
      (await backend.getRange({ prefix: "/u/" })).map((i) => i.key),
      sorted,
    );
    assert.deepEqual(
      (await backend.getRange({ start: "/u/\ufffd", end: "/u/\u{1f601}" })).map((i) => i.key),
      ["/u/\ufffd", "/u/\u{1f600}"],
    );
  });

  t("deleteRange removes a prefix or a start..end range and counts what it removed", async ({ backend }) => {
    for (const k of ["/d/1", "/d/2", "/d/3", "/dx/1", "/e/1"]) await backend.put({ key: k, value: buf(k) });
    assert.equal(await backend.deleteRange({ prefix: "/d/" }), 3);
    assert.deepEqual(await backend.getRange({ prefix: "/d/" }), []);
    assert.equal((await backend.getRange({ prefix: "/" })).length, 2);
    for (const k of ["/r/a", "/r/b", "/r/c", "/r/d"]) await backend.put({ key: k, value: buf(k) });
    assert.equal(await backend.deleteRange({ start: "/r/b", end: "/r/d" }), 2);
    assert.deepEqual(
      (await backend.getRange({ prefix: "/r/" })).map((i) => i.key),
      ["/r/a", "/r/d"],
    );
    assert.equal(await backend.deleteRange({ prefix: "/nothing/" }), 0);
  });
}
