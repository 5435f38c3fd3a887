import assert from "node:assert/strict";
import { describe, it } from "node:test";
import pino from "pino";
import { FakeClock } from "../../../api/clock.ts";
import type { StoredResource } from "../../../api/resource.ts";
import { parseResource, type SessionTrackerSpec } from "../../../api/resources/index.ts";
import { TrackerKeeper } from "./tracker.ts";

const log = pino({ level: "silent" });
const session = {
  sessionId: "5f3c8a9e-0000-4000-8000-000000000001",
  login: "root",
  owner: "alice",
  hostId: "host-1",
  hostname: "web-1",
  created: new Date("2026-03-01T10:00:00Z"),
};
const alice = { user: "alice", mode: "peer" as const, joined: session.created };
const bob = { user: "bob", mode: "observer" as const, joined: new Date("2026-03-01T10:01:00Z") };

/** A sink whose writes the test releases one by one. */
function gatedSink() {
  const writes: StoredResource[] = [];
  const gates: (() => void)[] = [];
  return {
    writes,
    release: () => gates.shift()?.(),
    sink: {
      put: (t: StoredResource) =>
        new Promise<void>((resolve) => {
          writes.push(structuredClone(t));
          gates.push(resolve);
        }),
    },
  };
}

const tick = () => new Promise((r) => setImmediate(r));
const specOf = (t: StoredResource | undefined) => t?.spec as SessionTrackerSpec;

describe("TrackerKeeper", () => {
  it("writes a valid active tracker at start with a two-minute TTL", async () => {
    const clock = new FakeClock(new Date("2026-03-01T10:00:05Z"));
    const g = gatedSink();
    const k = new TrackerKeeper(g.sink, session, clock, log, 3_600_000);
    k.start([alice]);
    await tick();
    assert.equal(g.writes.length, 1);
    const t = g.writes[0];
    assert.equal(t?.metadata.expires, "2026-03-01T10:02:05.000Z");
    assert.deepEqual(parseResource(t), t, "Auth's schema accepts what the node writes");
    assert.deepEqual(specOf(t).participants, [{ user: "alice", mode: "peer", joined: "2026-03-01T10:00:00.000Z" }]);
    g.release();
    const done = k.terminate();
    await tick();
    g.release();
    await done;
  });

  it("coalesces changes made while a write is in flight into one write of the latest state", async () => {
    const g = gatedSink();
    const k = new TrackerKeeper(g.sink, session, new FakeClock(), log, 3_600_000);
    k.start([alice]);
    await tick();
    k.update([alice, bob]);
    k.update([alice]);
    k.update([alice, bob]);
    g.release();
    await tick();
    await tick();
    assert.equal(g.writes.length, 2);
    assert.deepEqual(
      specOf(g.writes[1]).participants.map((p) => p.user),
      ["alice", "bob"],
    );
    g.release();
    const done = k.terminate();
    await tick();
    g.release();
    await done;
    const last = g.writes.at(-1);
    assert.equal(specOf(last).state, "terminated");
    assert.equal(last?.metadata.expires, new Date(new Date("2026-01-01T00:00:00Z").getTime() + 60_000).toISOString());
    k.update([alice]);
    await tick();
    assert.equal(g.writes.length, 3, "nothing is written after the end");
  });

  it("refreshes on a period and survives failed writes", async () => {
    let calls = 0;
    const k = new TrackerKeeper(
      {
        put: async () => {
          calls++;
          throw new Error("auth is away");
        },
      },
      session,
      new FakeClock(),
      log,
      20,
    );
    k.start([alice]);
    await new Promise((r) => setTimeout(r, 120));
    await k.terminate();
    assert.ok(calls >= 3, `only ${calls} writes`);
  });
});
