import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isJumpgateError } from "../../api/errors.ts";
import type { EventRow } from "./plan.ts";
import { checkReplayable, isRevisionCompacted, WatcherSet } from "./watcher.ts";

const put = (revision: number, key: string): EventRow => ({
  revision,
  type: "put",
  key,
  value: Buffer.from(key),
  expires: null,
});

describe("watchers", () => {
  it("drop duplicates and events at or below the resume revision", async () => {
    const set = new WatcherSet(100);
    const w = set.create({ prefixes: ["/a/"], fromRevision: 2 });
    set.publish([put(1, "/a/1"), put(2, "/a/2"), put(3, "/a/3"), put(3, "/a/3"), put(4, "/b/4"), put(5, "/a/5")]);
    const it = w[Symbol.asyncIterator]();
    assert.equal((await it.next()).value?.item.revision, 3);
    assert.equal((await it.next()).value?.item.revision, 5);
    w.close();
    assert.equal((await it.next()).done, true);
    assert.equal(set.size, 0);
  });

  it("a held watcher delivers its history before what arrived meanwhile", async () => {
    const set = new WatcherSet(100);
    const w = set.create({ prefixes: [], fromRevision: 0 }, true);
    set.publish([put(3, "/c"), put(4, "/d")]);
    const history = [put(1, "/a"), put(2, "/b"), put(3, "/c")].map((r) => ({
      type: r.type,
      item: { key: r.key, value: r.value, revision: r.revision },
    }));
    w.release(history);
    const it = w[Symbol.asyncIterator]();
    const revs = [];
    for (let i = 0; i < 4; i++) revs.push((await it.next()).value?.item.revision);
    assert.deepEqual(revs, [1, 2, 3, 4]);
    w.close();
  });

  it("a watcher that falls too far behind fails with limit-exceeded", async () => {
    const set = new WatcherSet(3);
    const w = set.create({ prefixes: [] });
    set.publish([put(1, "/a"), put(2, "/b"), put(3, "/c"), put(4, "/d")]);
    await assert.rejects(w[Symbol.asyncIterator]().next(), (e: unknown) => isJumpgateError(e, "limit-exceeded"));
    assert.equal((await w[Symbol.asyncIterator]().next()).done, true);
    assert.equal(set.size, 0);
  });

  it("a failure reaches a reader that is already waiting", async () => {
    const set = new WatcherSet(3);
    const w = set.create({ prefixes: [] });
    const pending = w[Symbol.asyncIterator]().next();
    set.failAll(new Error("boom"));
    await assert.rejects(pending, /boom/);
  });

  it("history is replayable only if it starts right after the requested revision", () => {
    checkReplayable(5, 6);
    checkReplayable(5, undefined);
    checkReplayable(9, 6);
    assert.throws(
      () => checkReplayable(4, 6),
      (e: unknown) => isRevisionCompacted(e) && isJumpgateError(e, "bad-parameter"),
    );
  });
});
