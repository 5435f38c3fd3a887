import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { toProto } from "../../../api/convert.ts";
import { isJumpgateError } from "../../../api/errors.ts";
import { startTestApi } from "../testing/api.ts";
import { authFixture } from "../testing/fixture.ts";
import { validateResource } from "../validate.ts";

type Fixture = Awaited<ReturnType<typeof authFixture>>;
type Api = Awaited<ReturnType<typeof startTestApi>>;

const denied = async (p: Promise<unknown>, re: RegExp) => {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isJumpgateError(e), String(e));
    assert.equal(e.kind, "access-denied", e.message);
    assert.match(e.message, re);
    return true;
  });
};

const role = (name: string, rules: { resources: string[]; verbs: string[] }[]) =>
  toProto({ kind: "role", version: "v7", metadata: { name }, spec: { allow: { rules }, deny: {} } });

describe("Auth API over mutual TLS", () => {
  let f: Fixture;
  let api: Api;
  before(async () => {
    // Real TLS checks validity against real time, so the fixture's clock starts now.
    f = await authFixture({ secondFactor: "off" }, new Date());
    api = await startTestApi(f.server);
    await f.ctx.stores.roles.create(
      validateResource({
        kind: "role",
        version: "v7",
        metadata: { name: "role-admin" },
        spec: { allow: { rules: [{ resources: ["role"], verbs: ["list", "read", "create", "update"] }] }, deny: {} },
      }),
    );
    await f.addUser("rita", ["role-admin"]);
    await f.addUser("ann", ["access"], { logins: ["ann"] });
  });
  after(async () => {
    await api?.close();
    await f?.close();
  });

  test("anyone may ping and export public CA keys; everything else needs a certificate", async () => {
    const anon = api.anonymous();
    assert.equal((await anon.ping({})).clusterName, "unit.test");
    assert.equal((await anon.exportAuthorities({ type: "user" })).sshPublicKeys.length, 1);
    await denied(anon.listResources({ kind: "role" }), /client certificate|log in/);
    await denied(anon.createToken({ roles: ["node"] }), /log in/);
  });

  test("a request larger than the API's read limit is refused before it is handled", async () => {
    const anon = api.anonymous();
    await assert.rejects(anon.getInvite({ token: "a".repeat(5 * 1024 * 1024) }), (e: unknown) => {
      assert.ok(isJumpgateError(e, "limit-exceeded"), String(e));
      return true;
    });
    assert.equal((await anon.ping({})).clusterName, "unit.test");
  });

  test("users act within their roles' rules, and every refusal is audited", async () => {
    const ann = await api.asUser("ann");
    await denied(ann.listResources({ kind: "user" }), /may not list user/);
    await denied(ann.createToken({ roles: ["node"] }), /may not create token/);
    const refusals = await f.auditEvents("auth");
    assert.ok(
      refusals.some((e) => e.user === "ann" && e.method === "CreateToken" && e.success === false),
      JSON.stringify(refusals),
    );
  });

  test("a role editor cannot grant more than he holds (escalation guard)", async () => {
    const rita = await api.asUser("rita");
    await rita.upsertResource({ resource: role("readers", [{ resources: ["role"], verbs: ["list", "read"] }]) });
    await denied(rita.upsertResource({ resource: role("everything", [{ resources: ["*"], verbs: ["*"] }]) }), /access denied/);
    await denied(rita.upsertResource({ resource: role("tokens", [{ resources: ["token"], verbs: ["create"] }]) }), /token/);
    // Assigning roles, himself included, needs user rights he does not have.
    await denied(rita.updateUser({ name: "rita", roles: ["editor"], setRoles: true }), /user/);
    await denied(rita.createUser({ name: "sock", roles: ["editor"] }), /user/);
    assert.equal(await f.ctx.stores.roles.find("everything"), undefined);
  });

  test("certificates from another cluster, expired ones and deleted users are refused with the reason", async () => {
    const other = await authFixture({ secondFactor: "off", clusterName: "other.test" }, new Date());
    await other.addUser("ann", ["access"], { logins: ["ann"] });
    const foreign = await api.asUser("ann", other.ctx);
    await denied(foreign.listResources({ kind: "role" }), /not issued by this cluster/);
    await other.close();

    const now = f.clock.now();
    f.clock.set(new Date(now.getTime() - 2 * 3600_000));
    const stale = await api.asUser("ann", f.ctx, 3600_000);
    f.clock.set(now);
    await denied(stale.status({}), /expired/);

    await f.addUser("gone", ["access"], { logins: ["gone"] });
    const gone = await api.asUser("gone");
    assert.ok(await gone.status({}));
    await f.ctx.stores.users.delete("gone");
    await denied(gone.status({}), /no longer exists/);
  });

  test("only the proxy may log users in or read invitations", async () => {
    const ann = await api.asUser("ann");
    await denied(ann.authenticateUser({ user: "ann", password: "x" }), /only the proxy/);
    const node = await api.asHost("node");
    await denied(node.getInvite({ token: "00" }), /only the proxy/);
    const proxy = await api.asHost("proxy");
    await assert.rejects(proxy.getInvite({ token: "ab".repeat(24) }), /expired or was already used/);
  });

  test("watch streams resource changes and resumes from a revision", async () => {
    const admin = await api.asHost("admin");
    const ac = new AbortController();
    const stream = admin.watch({ kinds: ["role"] }, { signal: ac.signal })[Symbol.asyncIterator]();
    const init = await stream.next();
    assert.equal(init.value?.type, "init");
    await admin.upsertResource({ resource: role("watched", [{ resources: ["role"], verbs: ["read"] }]) });
    const put = await stream.next();
    assert.equal(put.value?.type, "put");
    assert.equal(put.value?.name, "watched");
    const rev = put.value?.revision ?? 0n;
    await admin.deleteResource({ kind: "role", name: "watched" });
    const del = await stream.next();
    assert.equal(del.value?.type, "delete");
    ac.abort();

    const resumed = admin.watch({ kinds: ["role"], fromRevision: rev - 1n })[Symbol.asyncIterator]();
    const events: string[] = [];
    for (let i = 0; i < 3; i++) {
      const ev = await resumed.next();
      events.push(`${ev.value?.type}:${ev.value?.name ?? ""}`);
    }
    assert.deepEqual(events, ["init:", "put:watched", "delete:watched"]);
    await resumed.return?.(undefined);
  });
});
