/** The backend contract, part two: watching, expiry and concurrent writers. */
import assert from "node:assert/strict";
import { isJumpgateError } from "../../api/errors.ts";
import { buf, rejectsWith, show, take, type WithBackend } from "./contract-helpers.test-suite.ts";
import { isRevisionCompacted } from "./watcher.ts";

export function watchContract(t: WithBackend): void {
  t("a watcher sees only the prefixes it asked for, in order", async ({ backend }) => {
    const w = backend.watch({ prefixes: ["/a/", "/c/"] });
    const all = backend.watch({ prefixes: [] });
    await backend.put({ key: "/a/1", value: buf("1") });
    await backend.put({ key: "/b/1", value: buf("1") });
    await backend.put({ key: "/c/1", value: buf("1") });
    await backend.delete("/a/1");
    await backend.deleteRange({ prefix: "/b/" });
    const end = await backend.put({ key: "/c/end", value: buf("end") });
    const seen = await take(w, 4);
    assert.deepEqual(show(seen), ["put /a/1", "put /c/1", "delete /a/1", "put /c/end"]);
    assert.deepEqual(seen[3]?.item, end);
    assert.deepEqual(seen[0]?.item.value, buf("1"));
    assert.deepEqual(seen[2]?.item.value, Buffer.alloc(0));
    for (let i = 1; i < seen.length; i++) assert.ok((seen[i]?.item.revision ?? 0) > (seen[i - 1]?.item.revision ?? 0));
    assert.deepEqual(show(await take(all, 6)), ["put /a/1", "put /b/1", "put /c/1", "delete /a/1", "delete /b/1", "put /c/end"]);
    w.close();
    all.close();
  });

  t("a watcher resumed from a revision replays exactly what it missed, then goes live", async ({ backend }) => {
    const r0 = await backend.currentRevision();
    const p1 = await backend.put({ key: "/w/1", value: buf("1") });
    await backend.put({ key: "/other/1", value: buf("x") });
    const p2 = await backend.put({ key: "/w/2", value: buf("2") });
    await backend.delete("/w/1");
    const w = backend.watch({ prefixes: ["/w/"], fromRevision: r0 });
    const replayed = await take(w, 3);
    assert.deepEqual(show(replayed), ["put /w/1", "put /w/2", "delete /w/1"]);
    assert.deepEqual(replayed[0]?.item, p1);
    assert.deepEqual(replayed[1]?.item, p2);
    const p3 = await backend.put({ key: "/w/3", value: buf("3") });
    const live = await take(w, 1);
    assert.deepEqual(live[0]?.item, p3);
    w.close();

    const mid = backend.watch({ prefixes: ["/w/"], fromRevision: p2.revision });
    assert.deepEqual(show(await take(mid, 2)), ["delete /w/1", "put /w/3"]);
    mid.close();

    const now = backend.watch({ prefixes: ["/w/"], fromRevision: await backend.currentRevision() });
    await backend.put({ key: "/w/4", value: buf("4") });
    assert.deepEqual(show(await take(now, 1)), ["put /w/4"]);
    now.close();
  });

  t(
    "resuming from before the retained history fails so the caller re-lists",
    async ({ backend }) => {
      for (let i = 0; i < 30; i++) await backend.put({ key: `/h/${i}`, value: buf(String(i)) });
      await backend.sweepExpired(); // also trims the history
      const w = backend.watch({ prefixes: ["/h/"], fromRevision: 0 });
      await assert.rejects(take(w, 1), (e: unknown) => isRevisionCompacted(e) && isJumpgateError(e, "bad-parameter"));
      w.close();
      const rev = await backend.currentRevision();
      const ok = backend.watch({ prefixes: ["/h/"], fromRevision: rev - 3 });
      assert.deepEqual(show(await take(ok, 3)), ["put /h/27", "put /h/28", "put /h/29"]);
      ok.close();
    },
    { historyLimit: 5 },
  );

  t("close ends a watcher's stream, and so does closing the backend", async ({ backend }) => {
    const w = backend.watch({ prefixes: ["/x/"] });
    const pending = w[Symbol.asyncIterator]().next();
    w.close();
    assert.deepEqual(await pending, { value: undefined, done: true });
    const w2 = backend.watch({ prefixes: ["/x/"] });
    await backend.put({ key: "/x/1", value: buf("1") });
    let n = 0;
    for await (const ev of w2) {
      assert.equal(ev.item.key, "/x/1");
      n++;
      break; // leaves the loop through return(), which closes the watcher
    }
    assert.equal(n, 1);
    const w3 = backend.watch({ prefixes: ["/x/"] });
    await backend.close();
    assert.deepEqual(await take(w3, 1), []);
  });

  t("expired items vanish from reads and watchers get a delete event", async ({ backend, clock }) => {
    const w = backend.watch({ prefixes: ["/ttl/"] });
    const exp = new Date(clock.now().getTime() + 10_000);
    await backend.put({ key: "/ttl/a", value: buf("a"), expires: exp });
    await backend.put({ key: "/ttl/b", value: buf("b") });
    assert.deepEqual((await backend.get("/ttl/a"))?.expires, exp);
    clock.advance(9_999);
    assert.ok((await backend.get("/ttl/a")) !== undefined);
    clock.advance(1);
    assert.equal(await backend.get("/ttl/a"), undefined);
    assert.deepEqual(
      (await backend.getRange({ prefix: "/ttl/" })).map((i) => i.key),
      ["/ttl/b"],
    );
    await backend.sweepExpired();
    const seen = await take(w, 3);
    assert.deepEqual(show(seen), ["put /ttl/a", "put /ttl/b", "delete /ttl/a"]);
    assert.ok((seen[2]?.item.revision ?? 0) > (seen[1]?.item.revision ?? 0));
    assert.equal(await backend.sweepExpired(), 0);
    assert.equal(await backend.get("/ttl/a"), undefined);
    w.close();
  });

  t("an expired item counts as absent for every write", async ({ backend, clock }) => {
    const soon = () => new Date(clock.now().getTime() + 1000);
    for (const k of ["/e/create", "/e/update", "/e/keep", "/e/delete", "/e/cas", "/e/range"]) {
      await backend.put({ key: k, value: buf("old"), expires: soon() });
    }
    const w = backend.watch({ prefixes: ["/e/create"] });
    clock.advance(1000);
    const created = await backend.create({ key: "/e/create", value: buf("new") });
    assert.deepEqual(await backend.get("/e/create"), created);
    assert.deepEqual(show(await take(w, 2)), ["delete /e/create", "put /e/create"]);
    await rejectsWith(backend.update({ key: "/e/update", value: buf("x") }), "not-found");
    await rejectsWith(backend.keepAlive("/e/keep", undefined), "not-found");
    await rejectsWith(backend.delete("/e/delete"), "not-found");
    await rejectsWith(backend.compareAndSwap({ key: "/e/cas", value: buf("old") }, { key: "/e/cas", value: buf("x") }), "compare-failed");
    assert.equal(await backend.deleteRange({ prefix: "/e/range" }), 0);
    assert.deepEqual(
      (await backend.getRange({ prefix: "/e/" })).map((i) => i.key),
      ["/e/create"],
    );
    w.close();
  });

  t("200 concurrent creates all succeed with distinct revisions, seen in order", async ({ backend }) => {
    const w = backend.watch({ prefixes: ["/many/"] });
    const base = await backend.currentRevision();
    const keys = Array.from({ length: 200 }, (_, i) => `/many/${String(i).padStart(3, "0")}`);
    const items = await Promise.all(keys.map((key) => backend.create({ key, value: buf(key) })));
    const revs = items.map((i) => i.revision);
    assert.equal(new Set(revs).size, 200);
    assert.ok(revs.every((r) => r > base));
    assert.ok((await backend.currentRevision()) >= Math.max(...revs));
    const events = await take(w, 200);
    assert.equal(events.length, 200);
    const evRevs = events.map((e) => e.item.revision);
    assert.deepEqual(
      evRevs,
      [...revs].sort((a, b) => a - b),
    );
    assert.deepEqual(
      (await backend.getRange({ prefix: "/many/" })).map((i) => i.key),
      keys,
    );
    w.close();
  });

  t("of concurrent creates or swaps on one key exactly one wins", async ({ backend }) => {
    const creates = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => backend.create({ key: "/one", value: buf(String(i)) })));
    assert.equal(creates.filter((r) => r.status === "fulfilled").length, 1);
    for (const r of creates) if (r.status === "rejected") assert.ok(isJumpgateError(r.reason, "already-exists"));
    const cur = await backend.get("/one");
    assert.ok(cur !== undefined);
    const swaps = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) => backend.compareAndSwap({ key: "/one", revision: cur.revision }, { key: "/one", value: buf(`s${i}`) })),
    );
    const won = swaps.filter((r) => r.status === "fulfilled");
    assert.equal(won.length, 1);
    for (const r of swaps) if (r.status === "rejected") assert.ok(isJumpgateError(r.reason, "compare-failed"));
    assert.deepEqual(await backend.get("/one"), won[0]?.value);
  });
}
