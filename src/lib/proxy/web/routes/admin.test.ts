import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { PUBLIC_ADDR, routesFixture } from "./routes.test-helpers.ts";
import { userItem } from "./users.ts";

type Fixture = Awaited<ReturnType<typeof routesFixture>>;

const GOOD_ROLE = `kind: role
version: v7
metadata:
  name: dev
  description: Developers
spec:
  allow:
    logins: [dev]
    node_labels:
      env: dev
  deny: {}
`;

describe("administration routes", () => {
  let t: Fixture;
  before(async () => {
    t = await routesFixture();
    await t.addUser("admin", ["editor"]);
    await t.addUser("bob", ["access"], { logins: ["bob"] });
  });
  after(() => t?.close());

  test("an access-role user is refused on every admin route, and nothing changes", async () => {
    const calls: Array<[string, string, unknown?]> = [
      ["GET", "/webapi/users"],
      ["POST", "/webapi/users", { name: "mallory", roles: ["editor"] }],
      ["POST", "/webapi/users/admin/reset"],
      ["DELETE", "/webapi/users/admin"],
      ["GET", "/webapi/roles"],
      ["GET", "/webapi/roles/editor"],
      ["PUT", "/webapi/roles/dev", { yaml: GOOD_ROLE }],
      ["DELETE", "/webapi/roles/editor"],
      ["GET", "/webapi/tokens"],
      ["POST", "/webapi/tokens", { roles: ["node"] }],
      ["GET", "/webapi/audit/events"],
    ];
    for (const [method, path, body] of calls) {
      const r = await t.call("bob", method, path, body);
      assert.equal(r.status, 403, `${method} ${path}: ${r.text}`);
      assert.equal(r.json.error.kind, "access-denied");
    }
    assert.equal(await t.f.ctx.stores.users.find("mallory"), undefined);
    assert.equal(await t.f.ctx.stores.roles.find("dev"), undefined);
    assert.ok(await t.f.ctx.stores.roles.find("editor"));
    assert.equal((await t.f.ctx.stores.tokens.list()).length, 0);
  });

  test("roles: PUT creates from YAML, GET shows it, DELETE removes it", async () => {
    const put = await t.call("admin", "PUT", "/webapi/roles/dev", { yaml: GOOD_ROLE });
    assert.equal(put.status, 200, put.text);
    assert.equal(put.json.name, "dev");
    assert.match(put.json.yaml, /node_labels:\n\s+env: dev/);
    const list = await t.call("admin", "GET", "/webapi/roles");
    const dev = list.json.items.find((i: { name: string }) => i.name === "dev");
    assert.equal(dev.description, "Developers");
    const one = await t.call("admin", "GET", "/webapi/roles/dev");
    assert.equal(one.json.yaml, put.json.yaml);
    // The YAML round-trips: saving what was shown changes nothing.
    assert.equal((await t.call("admin", "PUT", "/webapi/roles/dev", { yaml: one.json.yaml })).status, 200);
    assert.equal((await t.call("admin", "DELETE", "/webapi/roles/dev")).status, 204);
    assert.equal((await t.call("admin", "GET", "/webapi/roles/dev")).status, 404);
  });

  test("roles: malformed YAML is a bad parameter at its line, and nothing is written", async () => {
    const r = await t.call("admin", "PUT", "/webapi/roles/broken", { yaml: "kind: role\nversion: v7\nmetadata:\n  name: broken\nspec: [unclosed\n" });
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json.error.kind, "bad-parameter");
    assert.match(r.json.error.message, /invalid YAML/);
    assert.equal(typeof r.json.error.line, "number");
    assert.ok(r.json.error.line >= 5, r.text);
    assert.equal(typeof r.json.error.column, "number");
    assert.equal(await t.f.ctx.stores.roles.find("broken"), undefined);
  });

  test("roles: an invalid field is reported at its node, and nothing is written", async () => {
    const bad = GOOD_ROLE.replace("metadata:\n  name: dev", "metadata:\n  name: bad").replace("logins: [dev]", "logins: 42");
    const r = await t.call("admin", "PUT", "/webapi/roles/bad", { yaml: bad });
    assert.equal(r.status, 400, r.text);
    assert.match(r.json.error.message, /spec\.allow\.logins: expected a list/);
    assert.deepEqual([r.json.error.line, r.json.error.column], [8, 5]);
    assert.equal(await t.f.ctx.stores.roles.find("bad"), undefined);

    // A problem the schema cannot see (an invalid label regex) is positioned too.
    const regex = GOOD_ROLE.replace("name: dev", "name: rx").replace("env: dev", () => "env: '^[$'");
    const rx = await t.call("admin", "PUT", "/webapi/roles/rx", { yaml: regex });
    assert.equal(rx.status, 400, rx.text);
    assert.match(rx.json.error.message, /node_labels/);
    assert.deepEqual([rx.json.error.line, rx.json.error.column], [10, 7]);
    assert.equal(await t.f.ctx.stores.roles.find("rx"), undefined);

    const other = await t.call("admin", "PUT", "/webapi/roles/other", { yaml: GOOD_ROLE });
    assert.equal(other.status, 400);
    assert.match(other.json.error.message, /metadata\.name is "dev"/);
    assert.deepEqual([other.json.error.line, other.json.error.column], [4, 3]);
    assert.equal(await t.f.ctx.stores.roles.find("other"), undefined);

    const two = await t.call("admin", "PUT", "/webapi/roles/dev", { yaml: `${GOOD_ROLE}---\n${GOOD_ROLE}` });
    assert.equal(two.status, 400);
    assert.match(two.json.error.message, /one role/);
  });

  test("users: invite, list with status, reset, delete", async () => {
    const created = await t.call("admin", "POST", "/webapi/users", { name: "carol", roles: ["access"], traits: { logins: ["carol"] } });
    assert.equal(created.status, 200, created.text);
    assert.equal(created.json.name, "carol");
    assert.ok(created.json.invite_url.startsWith(`https://${PUBLIC_ADDR}/web/invite/`), created.json.invite_url);
    assert.ok(!Number.isNaN(Date.parse(created.json.expires)));

    await t.f.ctx.stores.locks.create({
      kind: "lock",
      version: "v2",
      metadata: { name: "bob-lock" },
      spec: { target: { user: "bob" }, message: "on leave", expires: "2099-01-01T00:00:00.000Z" },
    });
    const list = await t.call("admin", "GET", "/webapi/users");
    assert.equal(list.status, 200, list.text);
    const byName = Object.fromEntries(list.json.items.map((u: { name: string }) => [u.name, u]));
    assert.deepEqual(byName.carol.roles, ["access"]);
    assert.deepEqual(byName.carol.traits, { logins: ["carol"] });
    assert.equal(byName.bob.status, "locked");
    assert.equal(byName.bob.locked_until, "2099-01-01T00:00:00.000Z");
    assert.equal(byName.admin.status, "active");

    const reset = await t.call("admin", "POST", "/webapi/users/carol/reset");
    assert.equal(reset.status, 200, reset.text);
    assert.notEqual(reset.json.invite_url, created.json.invite_url);

    assert.equal((await t.call("admin", "POST", "/webapi/users", { name: "dave", roles: [] })).status, 400);
    assert.equal((await t.call("admin", "POST", "/webapi/users", { name: "carol", roles: ["access"] })).status, 409);
    assert.equal((await t.call("admin", "DELETE", "/webapi/users/admin")).status, 400);
    assert.equal((await t.call("admin", "DELETE", "/webapi/users/carol")).status, 204);
    assert.equal(await t.f.ctx.stores.users.find("carol"), undefined);
    assert.equal((await t.call("admin", "DELETE", "/webapi/users/carol")).status, 404);
  });

  test("tokens: create with a copyable command, list, delete", async () => {
    const c = await t.call("admin", "POST", "/webapi/tokens", { roles: ["node"], ttl_seconds: 1800 });
    assert.equal(c.status, 200, c.text);
    assert.deepEqual(c.json.roles, ["node"]);
    assert.equal(c.json.command, `jumpgate start --roles=node --token=${c.json.name} --proxy=${PUBLIC_ADDR}`);
    const left = Date.parse(c.json.expires) - Date.now();
    assert.ok(left > 1700_000 && left <= 1800_000, String(left));

    const list = await t.call("admin", "GET", "/webapi/tokens");
    assert.deepEqual(list.json.items, [{ name: c.json.name, roles: ["node"], expires: c.json.expires }]);

    assert.equal((await t.call("admin", "POST", "/webapi/tokens", { roles: ["spaceship"] })).status, 400);
    assert.equal((await t.call("admin", "POST", "/webapi/tokens", { roles: ["node"], ttl_seconds: -1 })).status, 400);
    assert.equal((await t.call("admin", "POST", "/webapi/tokens", { roles: "node" })).status, 400);

    assert.equal((await t.call("admin", "DELETE", `/webapi/tokens/${c.json.name}`)).status, 204);
    assert.deepEqual((await t.call("admin", "GET", "/webapi/tokens")).json.items, []);
  });
});

describe("user status", () => {
  const now = new Date("2026-06-01T12:00:00Z");
  const user = (status?: Record<string, unknown>) => ({
    kind: "user",
    version: "v2",
    metadata: { name: "u" },
    spec: { roles: ["access"], traits: {}, ...(status ? { status } : {}) },
  });
  test("login lockout in force is locked; an expired one is not; a pending invite is invited", () => {
    assert.deepEqual(
      [
        userItem(user({ is_locked: true, lock_expires: "2026-06-01T12:20:00Z" }), [], now).status,
        userItem(user({ is_locked: true, lock_expires: "2026-06-01T12:20:00Z" }), [], now).locked_until,
      ],
      ["locked", "2026-06-01T12:20:00Z"],
    );
    assert.equal(userItem(user({ is_locked: true, lock_expires: "2026-06-01T11:00:00Z" }), [], now).status, "active");
    assert.equal(userItem(user({ invite_pending: true }), [], now).status, "invited");
    assert.equal(userItem(user(), [], now).status, "active");
  });
});
