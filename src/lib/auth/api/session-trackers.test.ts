import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { storedFromProto, toProto } from "../../../api/convert.ts";
import { isJumpgateError } from "../../../api/errors.ts";
import { type SessionTrackerSpec, sessionTrackerResource } from "../../../api/resources/index.ts";
import { startTestApi } from "../testing/api.ts";
import { authFixture } from "../testing/fixture.ts";
import { validateResource } from "../validate.ts";

type Fixture = Awaited<ReturnType<typeof authFixture>>;
type Api = Awaited<ReturnType<typeof startTestApi>>;

const refused = async (p: Promise<unknown>, kind: "access-denied" | "not-found", re: RegExp) => {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isJumpgateError(e), String(e));
    assert.equal(e.kind, kind, e.message);
    assert.match(e.message, re);
    return true;
  });
};

const SID = "5f3c8a9e-0000-4000-8000-000000000001";

describe("session trackers through the Auth API", () => {
  let f: Fixture;
  let api: Api;
  const tracker = (hostId: string, owner = "alice", sid = SID) =>
    toProto(
      sessionTrackerResource(
        {
          session_id: sid,
          kind: "ssh",
          state: "active",
          login: "root",
          owner,
          participants: [{ user: owner, mode: "peer", joined: f.clock.now().toISOString() }],
          host_id: hostId,
          hostname: "web-1",
          created: f.clock.now().toISOString(),
        },
        new Date(f.clock.now().getTime() + 120_000),
      ),
    );

  before(async () => {
    f = await authFixture({ secondFactor: "off" }, new Date());
    api = await startTestApi(f.server);
    const role = (name: string, allow: Record<string, unknown>) =>
      f.ctx.stores.roles.create(validateResource({ kind: "role", version: "v7", metadata: { name }, spec: { allow, deny: {} } }));
    await role("watcher", { join_sessions: [{ name: "watch", roles: ["access"], kinds: ["ssh"], modes: ["observer"] }] });
    await role("tracker-reader", { rules: [{ resources: ["session_tracker"], verbs: ["list", "read"] }] });
    await f.addUser("alice", ["access"], { logins: ["root"] });
    await f.addUser("wendy", ["access", "watcher"], { logins: ["root"] });
    await f.addUser("nora", ["access"], { logins: ["root"] });
    await f.addUser("rex", ["tracker-reader"]);
  });
  after(async () => {
    await api?.close();
    await f?.close();
  });

  test("a node writes trackers for its own host only, without an audit event per write", async () => {
    const node = await api.asHost("node", "host-1");
    const saved = storedFromProto(await node.upsertResource({ resource: tracker("host-1"), overwrite: true }));
    assert.equal(saved.metadata.name, SID);
    await node.upsertResource({ resource: tracker("host-1"), overwrite: true });
    assert.deepEqual(await f.auditEvents("session_tracker.created"), []);
    assert.deepEqual(await f.auditEvents("session_tracker.updated"), []);

    const other = await api.asHost("node", "host-2");
    await refused(other.upsertResource({ resource: tracker("host-1"), overwrite: true }), "access-denied", /may only write session trackers for itself/);
    await refused(other.upsertResource({ resource: tracker("host-2"), overwrite: true }), "access-denied", /may not overwrite session .* of another host/);
    const proxy = await api.asHost("proxy", "proxy-1");
    await refused(
      proxy.upsertResource({ resource: tracker("proxy-1"), overwrite: true }),
      "access-denied",
      /may only write session trackers for agentless OpenSSH nodes/,
    );
    // The sessions it forwards to agentless OpenSSH nodes are the proxy's to track (no agent runs there).
    await f.ctx.stores.nodes.create(
      validateResource({ kind: "node", version: "v2", sub_kind: "openssh", metadata: { name: "legacy" }, spec: { addr: "127.0.0.1:22", hostname: "legacy" } }),
    );
    const agentless = "5d1b7c43-8a36-4b9e-9d8e-0f4c2a7b9e11";
    await proxy.upsertResource({ resource: tracker("legacy", "alice", agentless), overwrite: true });
    await refused(proxy.upsertResource({ resource: tracker("host-1", "alice", agentless), overwrite: true }), "access-denied", /agentless OpenSSH nodes/);
    await f.ctx.stores.sessionTrackers.delete(agentless);
    const alice = await api.asUser("alice");
    await refused(alice.upsertResource({ resource: tracker("host-1"), overwrite: true }), "access-denied", /may not update session_tracker/);
    const bad = tracker("host-1");
    if (bad.metadata) bad.metadata.expires = "";
    await assert.rejects(node.upsertResource({ resource: bad, overwrite: true }), /must expire/);
  });

  test("users see the sessions they own or could join; others are refused with the reason", async () => {
    const owner = await api.asUser("alice");
    const watcher = await api.asUser("wendy");
    const stranger = await api.asUser("nora");
    const reader = await api.asUser("rex");
    const admin = await api.asHost("admin");
    const ids = async (c: typeof owner) => (await c.listResources({ kind: "session_tracker" })).resources.map((r) => r.metadata?.name);
    assert.deepEqual(await ids(owner), [SID]);
    assert.deepEqual(await ids(watcher), [SID]);
    assert.deepEqual(await ids(stranger), []);
    assert.deepEqual(await ids(reader), [SID]);
    assert.deepEqual(await ids(admin), [SID]);

    const got = storedFromProto(await watcher.getResource({ kind: "session_tracker", name: SID }));
    assert.equal((got.spec as SessionTrackerSpec).owner, "alice");
    await refused(
      stranger.getResource({ kind: "session_tracker", name: SID }),
      "access-denied",
      new RegExp(`you may not join session ${SID} \\(no join_sessions policy allows joining ssh sessions as observer\\)`),
    );
    const audit = await f.auditEvents("auth");
    assert.ok(
      audit.some((e) => e.user === "nora" && e.method === "GetResource" && e.success === false),
      JSON.stringify(audit),
    );
    await refused(watcher.getResource({ kind: "session_tracker", name: "0b5c3f0e-0000-4000-8000-000000000000" }), "not-found", /not found/);
    await refused(stranger.deleteResource({ kind: "session_tracker", name: SID }), "access-denied", /may not delete session_tracker/);
  });

  test("a tracker vanishes at its expiry", async () => {
    const node = await api.asHost("node", "host-1");
    const sid = "5f3c8a9e-0000-4000-8000-000000000002";
    await node.upsertResource({ resource: tracker("host-1", "alice", sid), overwrite: true });
    assert.ok(await f.ctx.stores.sessionTrackers.find(sid));
    f.clock.advance(121_000);
    assert.equal(await f.ctx.stores.sessionTrackers.find(sid), undefined);
  });
});
