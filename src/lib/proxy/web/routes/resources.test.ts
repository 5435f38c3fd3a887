import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { validateResource } from "../../../auth/index.ts";
import { PUBLIC_ADDR, routesFixture } from "./routes.test-helpers.ts";

type Fixture = Awaited<ReturnType<typeof routesFixture>>;

describe("GET /webapi/resources", () => {
  let t: Fixture;
  const web = randomUUID();
  const db = randomUUID();
  before(async () => {
    t = await routesFixture();
    await t.addRole({
      metadata: { name: "prod-access" },
      spec: { allow: { logins: ["{{internal.logins}}", "root"], node_labels: { env: "prod" } }, deny: {} },
    });
    const node = (id: string, hostname: string, labels: Record<string, string>) =>
      t.f.ctx.stores.nodes.create(
        validateResource({ kind: "node", version: "v2", metadata: { name: id, labels }, spec: { hostname, addr: `10.0.0.${hostname.length}:3022` } }),
      );
    await node(web, "web-1", { env: "prod", team: "Payments" });
    await node(db, "db-1", { env: "dev" });
    await t.addUser("alice", ["prod-access"], { logins: ["alice"] });
    await t.addUser("bob", ["access"], { logins: ["bob"] });
    // The editor may list every node by rule, but has no logins: nothing to connect to, so nothing listed.
    await t.addUser("ed", ["editor"]);
  });
  after(() => t?.close());

  test("lists only what the user's node_labels allow, with the logins his roles give there", async () => {
    const r = await t.call("alice", "GET", "/webapi/resources");
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.items, [
      {
        kind: "node",
        id: web,
        name: "web-1",
        description: "10.0.0.5:3022",
        labels: { env: "prod", team: "Payments" },
        logins: ["alice", "root"],
        sub_kind: "",
      },
    ]);
    const bob = await t.call("bob", "GET", "/webapi/resources?kind=node");
    assert.deepEqual(bob.json.items.map((i: { name: string; logins: string[] }) => [i.name, i.logins]).sort(), [
      ["db-1", ["bob"]],
      ["web-1", ["bob"]],
    ]);
    assert.deepEqual((await t.call("ed", "GET", "/webapi/resources")).json.items, []);
  });

  test("search is a case-insensitive substring of name, description and labels; labels filter exactly", async () => {
    const names = async (q: string) => ((await t.call("bob", "GET", `/webapi/resources?${q}`)).json.items as Array<{ name: string }>).map((i) => i.name).sort();
    assert.deepEqual(await names("search=WEB"), ["web-1"]);
    assert.deepEqual(await names("search=payments"), ["web-1"]);
    assert.deepEqual(await names("search=env%3Ddev"), ["db-1"]);
    assert.deepEqual(await names("search=10.0.0"), ["db-1", "web-1"]);
    assert.deepEqual(await names("labels=env%3Dprod,team%3DPayments"), ["web-1"]);
    assert.deepEqual(await names("labels=env%3Dprod,team%3Dpayments"), []);
  });

  test("unknown kinds and malformed label filters are bad parameters", async () => {
    const k = await t.call("bob", "GET", "/webapi/resources?kind=spaceship");
    assert.equal(k.status, 400);
    assert.equal(k.json.error.kind, "bad-parameter");
    assert.match(k.json.error.message, /known kinds: node/);
    const l = await t.call("bob", "GET", "/webapi/resources?labels=env");
    assert.equal(l.status, 400);
    assert.match(l.json.error.message, /KEY=VALUE/);
  });

  test("a role change takes effect at once", async () => {
    await t.f.ctx.stores.roles.upsert(
      validateResource({
        kind: "role",
        version: "v7",
        metadata: { name: "prod-access" },
        spec: { allow: { logins: ["{{internal.logins}}"], node_labels: { env: "*" } }, deny: { logins: ["root"] } },
      }),
    );
    const r = await t.call("alice", "GET", "/webapi/resources");
    assert.deepEqual(r.json.items.map((i: { name: string; logins: string[] }) => [i.name, i.logins]).sort(), [
      ["db-1", ["alice"]],
      ["web-1", ["alice"]],
    ]);
  });

  test("databases: one item per database, with the db users as logins and the db names", async () => {
    await t.addRole({
      metadata: { name: "pg-dev" },
      spec: { allow: { db_labels: { env: "dev" }, db_users: ["{{internal.db_users}}", "reader"], db_names: ["app"] }, deny: { db_users: ["reader"] } },
    });
    await t.addUser("dora", ["pg-dev"], { db_users: ["dora"] });
    const server = (host: string, name: string, labels: Record<string, string>) =>
      t.f.ctx.stores.dbServers.upsert(
        validateResource({
          kind: "db_server",
          version: "v3",
          metadata: { name: `${name}@${host}` },
          spec: {
            host_id: host,
            hostname: host,
            database: { kind: "db", version: "v3", metadata: { name, labels, description: "orders" }, spec: { protocol: "postgres", uri: "10.0.0.9:5432" } },
          },
        }),
      );
    await server("h1", "pg", { env: "dev" });
    await server("h2", "pg", { env: "dev" });
    await server("h1", "prod-pg", { env: "prod" });
    const r = await t.call("dora", "GET", "/webapi/resources?kind=db");
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.items, [
      { kind: "db", id: "pg", name: "pg", description: "orders", labels: { env: "dev" }, logins: ["dora"], sub_kind: "postgres", db_names: ["app"] },
    ]);
  });
});

describe("GET /webapi/resources: apps", () => {
  let t: Fixture;
  before(async () => {
    t = await routesFixture();
    await t.addRole({ metadata: { name: "apps-dev" }, spec: { allow: { app_labels: { env: "dev" } }, deny: { app_labels: { secret: "yes" } } } });
    await t.addUser("ann", ["apps-dev"]);
    const server = (host: string, name: string, spec: Record<string, unknown>, labels: Record<string, string>) =>
      t.f.ctx.stores.appServers.upsert(
        validateResource({
          kind: "app_server",
          version: "v3",
          metadata: { name: `${name}@${host}` },
          spec: { host_id: host, hostname: host, app: { kind: "app", version: "v3", metadata: { name, labels, description: `${name} app` }, spec } },
        }),
      );
    await server("h1", "grafana", { uri: "http://127.0.0.1:3000" }, { env: "dev" });
    await server("h2", "grafana", { uri: "http://127.0.0.1:3000" }, { env: "dev" });
    await server("h1", "redis", { uri: "tcp://127.0.0.1:6379", public_addr: "redis.example.com" }, { env: "dev" });
    await server("h1", "vault", { uri: "https://127.0.0.1:8200" }, { env: "dev", secret: "yes" });
    await server("h1", "billing", { uri: "https://127.0.0.1:8443" }, { env: "prod" });
  });
  after(() => t?.close());

  test("one item per app the roles' app_labels allow: http apps with a launch URL, tcp apps without", async () => {
    const r = await t.call("ann", "GET", "/webapi/resources?kind=app");
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(
      [...r.json.items].sort((a: { name: string }, b: { name: string }) => a.name.localeCompare(b.name)),
      [
        {
          kind: "app",
          id: "grafana",
          name: "grafana",
          description: "grafana app",
          labels: { env: "dev" },
          logins: [],
          sub_kind: "http",
          public_addr: `grafana.${PUBLIC_ADDR.replace(/:\d+$/, "")}`,
          launch_url: "/web/launch/grafana",
        },
        {
          kind: "app",
          id: "redis",
          name: "redis",
          description: "redis app",
          labels: { env: "dev" },
          logins: [],
          sub_kind: "tcp",
          public_addr: "redis.example.com",
        },
      ],
    );
    const all = await t.call("ann", "GET", "/webapi/resources");
    assert.deepEqual(all.json.items.map((i: { kind: string; name: string }) => `${i.kind}/${i.name}`).sort(), ["app/grafana", "app/redis"]);
    const k = await t.call("ann", "GET", "/webapi/resources?kind=spaceship");
    assert.match(k.json.error.message, /known kinds: node, db, app/);
  });
});
