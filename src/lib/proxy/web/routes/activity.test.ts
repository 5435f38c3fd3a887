import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { sessionTrackerResource } from "../../../../api/resources/index.ts";
import { validateResource } from "../../../auth/index.ts";
import { encodeEvent, encodeHeader, headerFor, metadataFromHeader } from "../../../events/index.ts";
import { EXPORT_PAGE } from "./audit.ts";
import { routesFixture } from "./routes.test-helpers.ts";

type Fixture = Awaited<ReturnType<typeof routesFixture>>;

const SID = "5f3c8a9e-0000-4000-8000-000000000001";
const SID2 = "5f3c8a9e-0000-4000-8000-000000000002";

describe("active sessions, recordings and the audit log", () => {
  let t: Fixture;
  before(async () => {
    t = await routesFixture();
    await t.addRole({
      metadata: { name: "watcher" },
      spec: { allow: { join_sessions: [{ name: "watch-access", roles: ["access"], kinds: ["ssh"], modes: ["observer"] }] }, deny: {} },
    });
    await t.addUser("alice", ["access"], { logins: ["alice"] });
    await t.addUser("wendy", ["watcher"]);
    await t.addUser("bob", ["access"], { logins: ["bob"] });
    await t.addUser("audrey", ["auditor"]);
  });
  after(() => t?.close());

  test("active sessions show who may join how", async () => {
    const now = new Date();
    const tracker = (sid: string, state: "active" | "terminated") =>
      validateResource(
        sessionTrackerResource(
          {
            session_id: sid,
            kind: "ssh",
            state,
            login: "alice",
            owner: "alice",
            participants: [{ user: "alice", mode: "peer", joined: now.toISOString() }],
            host_id: "host-1",
            hostname: "web-1",
            created: now.toISOString(),
          },
          new Date(now.getTime() + 120_000),
        ),
      );
    await t.f.ctx.stores.sessionTrackers.create(tracker(SID, "active"));
    await t.f.ctx.stores.sessionTrackers.create(tracker(SID2, "terminated"));

    const own = await t.call("alice", "GET", "/webapi/sessions/active");
    assert.equal(own.status, 200, own.text);
    assert.deepEqual(own.json.items, [
      {
        id: SID,
        kind: "ssh",
        node: "web-1",
        host_id: "host-1",
        login: "alice",
        user: "alice",
        created: now.toISOString(),
        participants: [{ user: "alice", mode: "peer" }],
        join_modes: ["observer", "peer"],
      },
    ]);
    const watcher = await t.call("wendy", "GET", "/webapi/sessions/active");
    assert.deepEqual(
      watcher.json.items.map((i: { id: string; join_modes: string[] }) => [i.id, i.join_modes]),
      [[SID, ["observer"]]],
    );
    // Bob may not join: Auth does not even show him the session.
    assert.deepEqual((await t.call("bob", "GET", "/webapi/sessions/active")).json.items, []);
  });

  test("recordings: listed by the session rules, and parsed for the player", async () => {
    const header = headerFor({
      sessionId: SID,
      user: "bob",
      login: "bob",
      hostId: "host-1",
      nodeName: "web-1",
      cols: 80,
      rows: 24,
      start: new Date(),
      remoteAddr: "127.0.0.1:5000",
    });
    const data = [
      encodeHeader(header),
      encodeEvent({ type: "output", time: 0.5, data: "web-42\r\n" }),
      encodeEvent({ type: "end", time: 1.25, reason: "end", extra: {} }),
    ].join("");
    t.f.ctx.recordings.append(SID, 0, Buffer.from(data), true, { ...metadataFromHeader(header), duration_ms: 1250 });

    const list = await t.call("bob", "GET", "/webapi/recordings?limit=10");
    assert.equal(list.status, 200, list.text);
    assert.deepEqual(list.json.items, [
      { session_id: SID, user: "bob", login: "bob", node: "web-1", start: header.jumpgate.start, duration_ms: 1250, size: data.length, complete: true },
    ]);
    // Alice took no part in it; her `access` role reads only her own sessions.
    assert.deepEqual((await t.call("alice", "GET", "/webapi/recordings")).json.items, []);
    assert.equal((await t.call("audrey", "GET", "/webapi/recordings")).json.items.length, 1);

    const one = await t.call("bob", "GET", `/webapi/recordings/${SID}`);
    assert.equal(one.status, 200, one.text);
    assert.equal(one.json.header.jumpgate.node_name, "web-1");
    assert.deepEqual(one.json.events[0], { type: "output", time: 0.5, data: "web-42\r\n" });
    assert.equal(one.json.events.at(-1).type, "end");
    assert.equal((await t.call("alice", "GET", `/webapi/recordings/${SID}`)).status, 403);
    assert.equal((await t.call("bob", "GET", "/webapi/recordings/not-a-session")).status, 400);
    assert.equal((await t.call("bob", "GET", "/webapi/recordings?limit=5000")).status, 400);
  });

  test("audit events: paging with next_key, filters, and clear errors for bad parameters", async () => {
    for (let i = 0; i < 5; i++) await t.f.audit.emit({ event: "session.start", user: "bob", sid: `s${i}` });
    await t.f.audit.emit({ event: "user.login", user: "alice", success: true });
    const seen: string[] = [];
    let key = "";
    for (let pages = 0; pages < 10; pages++) {
      const r = await t.call("audrey", "GET", `/webapi/audit/events?type=session.start&user=bob&limit=2&order=asc&start_key=${encodeURIComponent(key)}`);
      assert.equal(r.status, 200, r.text);
      assert.ok(r.json.items.length <= 2);
      seen.push(...r.json.items.map((e: { sid: string }) => e.sid));
      key = r.json.next_key;
      if (key === "") break;
    }
    assert.deepEqual(seen, ["s0", "s1", "s2", "s3", "s4"]);
    const logins = await t.call("audrey", "GET", "/webapi/audit/events?type=user.login");
    assert.ok(logins.json.items.every((e: { event: string }) => e.event === "user.login"));
    assert.ok(logins.json.items.some((e: { user: string }) => e.user === "alice"));

    const bad: Array<[string, RegExp]> = [
      ["limit=0", /"limit" must be a whole number from 1 to 1000/],
      ["limit=abc", /"limit"/],
      ["from=yesterday", /"from" must be an ISO 8601 time/],
      ["from=2026-06-02T00:00:00Z&to=2026-06-01T00:00:00Z", /"from" .* is after "to"/],
      ["order=sideways", /"order" must be asc or desc/],
      ["type=DROP%20TABLE", /not an event type/],
    ];
    for (const [q, re] of bad) {
      const r = await t.call("audrey", "GET", `/webapi/audit/events?${q}`);
      assert.equal(r.status, 400, `${q}: ${r.text}`);
      assert.equal(r.json.error.kind, "bad-parameter");
      assert.match(r.json.error.message, re);
    }
    assert.equal((await t.call("bob", "GET", "/webapi/audit/events")).status, 403);
    assert.equal((await t.call("bob", "GET", "/webapi/audit/export")).status, 403);
  });

  test("audit export streams the whole filtered range as JSON lines, page by page", async () => {
    const n = EXPORT_PAGE * 2 + 7;
    for (let i = 0; i < n; i++) await t.f.audit.emit({ event: "exec", user: "bob", n: i });
    const from = new Date(Date.now() - 3600_000).toISOString();
    const r = await t.call("audrey", "GET", `/webapi/audit/export?type=exec&from=${encodeURIComponent(from)}`);
    assert.equal(r.status, 200, r.text.slice(0, 200));
    assert.match(r.headers.get("content-type") ?? "", /^application\/x-ndjson/);
    assert.match(r.headers.get("content-disposition") ?? "", /^attachment; filename="audit-\d{8}T\d{6}Z-\d{8}T\d{6}Z\.jsonl"$/);
    const lines = r.text
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l) as { event: string; n: number });
    assert.equal(lines.length, n);
    assert.deepEqual(
      lines.map((e) => e.n),
      [...Array(n).keys()],
    );
    assert.ok(lines.every((e) => e.event === "exec"));
  });
});
