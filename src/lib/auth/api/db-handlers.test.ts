import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { fromProto, toProto } from "../../../api/convert.ts";
import { isJumpgateError } from "../../../api/errors.ts";
import { decodeIdentity, generateKeySet, verifyChain } from "../../crypto/index.ts";
import { startTestApi } from "../testing/api.ts";
import { authFixture } from "../testing/fixture.ts";
import { validateResource } from "../validate.ts";

type Fixture = Awaited<ReturnType<typeof authFixture>>;
type Api = Awaited<ReturnType<typeof startTestApi>>;

const refused = async (p: Promise<unknown>, kind: string, re: RegExp) => {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isJumpgateError(e), String(e));
    assert.equal(e.kind, kind, e.message);
    assert.match(e.message, re);
    return true;
  });
};

const database = (name: string, labels: Record<string, string>, protocol = "postgres") => ({
  kind: "db",
  version: "v3",
  metadata: { name, labels },
  spec: { protocol, uri: protocol === "postgres" ? "127.0.0.1:5432" : "127.0.0.1:3306" },
});
const dbServer = (name: string, hostId: string, labels: Record<string, string>, protocol = "postgres") => ({
  kind: "db_server",
  version: "v3",
  metadata: { name: `${name}@${hostId}` },
  spec: { host_id: hostId, hostname: hostId, version: "test", database: database(name, labels, protocol) },
});

const keys = () => {
  const k = generateKeySet();
  return { sshPublicKey: k.sshPublicKey, tlsPublicKey: k.tlsPublicKey };
};

describe("databases in the Auth API", () => {
  let f: Fixture;
  let api: Api;
  before(async () => {
    f = await authFixture({ secondFactor: "off" }, new Date());
    api = await startTestApi(f.server);
    const role = (name: string, spec: unknown) => f.ctx.stores.roles.upsert(validateResource({ kind: "role", version: "v7", metadata: { name }, spec }));
    await role("dev-db", { allow: { db_labels: { env: "dev" }, db_users: ["{{internal.db_users}}", "reader"], db_names: ["app", "test"] } });
    await role("no-billing", { deny: { db_names: ["billing"], db_users: ["postgres"] } });
    await role("no-secret", { deny: { db_labels: { tier: "secret" } } });
    await f.addUser("dana", ["dev-db", "no-billing", "no-secret"], { db_users: ["dana"] });
    await f.addUser("nora", ["access"], {});
    const db = await api.asHost("db", "db-host-1");
    await db.upsertResource({ resource: toProto(validateResource(dbServer("pg", "db-host-1", { env: "dev" }))), overwrite: true });
    await db.upsertResource({ resource: toProto(validateResource(dbServer("maria", "db-host-1", { env: "dev" }, "mysql"))), overwrite: true });
    await db.upsertResource({ resource: toProto(validateResource(dbServer("prod", "db-host-1", { env: "prod" }))), overwrite: true });
    await db.upsertResource({ resource: toProto(validateResource(dbServer("vault", "db-host-1", { env: "dev", tier: "secret" }))), overwrite: true });
  });
  after(async () => {
    await api?.close();
    await f?.close();
  });

  describe("db_server heartbeats", () => {
    test("a Database Service writes only its own entries, quietly", async () => {
      const db = await api.asHost("db", "db-host-2");
      await db.upsertResource({ resource: toProto(validateResource(dbServer("pg", "db-host-2", { env: "dev" }))), overwrite: true });
      await refused(
        db.upsertResource({ resource: toProto(validateResource(dbServer("pg", "db-host-1", { env: "dev" }))), overwrite: true }),
        "access-denied",
        /may only register its own databases/,
      );
      assert.equal((await f.auditEvents("db_server.created")).length, 0);
      // It removes its own entries, not another's.
      await db.deleteResource({ kind: "db_server", name: "pg@db-host-2" });
      await refused(db.deleteResource({ kind: "db_server", name: "pg@db-host-1" }), "access-denied", /may not delete db_server/);
    });

    test("an SSH node may not announce databases", async () => {
      const node = await api.asHost("node", "db-host-3");
      await refused(
        node.upsertResource({ resource: toProto(validateResource(dbServer("pg", "db-host-3", { env: "dev" }))), overwrite: true }),
        "access-denied",
        /may not update db_server/,
      );
    });

    test("users list the entries their db_labels match; admins and rule holders see all", async () => {
      const dana = await api.asUser("dana");
      const names = (await dana.listResources({ kind: "db_server" })).resources.map((r) => fromProto(r).metadata as { name: string });
      assert.deepEqual(names.map((m) => m.name).sort(), ["maria@db-host-1", "pg@db-host-1"]);
      const nora = await api.asUser("nora");
      assert.equal((await nora.listResources({ kind: "db_servers" })).resources.length, 4);
      const admin = await api.asHost("admin");
      assert.equal((await admin.listResources({ kind: "db_server" })).resources.length, 4);
    });

    test("jctl create -f db.yaml registers a db resource, audited as db.create", async () => {
      const admin = await api.asHost("admin");
      await admin.upsertResource({ resource: toProto(validateResource(database("reg", { env: "dev" }))), overwrite: false });
      assert.equal((await f.auditEvents("db.create")).length, 1);
      assert.equal((await admin.getResource({ kind: "db", name: "reg" })).kind, "db");
    });
  });

  describe("certificates with a route to a database", () => {
    const route = (serviceName: string, username: string, database = "", protocol = "") => ({ serviceName, protocol, username, database });

    test("the route is encoded in the X.509 identity when the roles allow it", async () => {
      const dana = await api.asUser("dana");
      const r = await dana.generateUserCerts({ ...keys(), routeToDatabase: route("pg", "dana", "app") });
      const id = decodeIdentity(r.tlsCert);
      assert.deepEqual(id.routeToDatabase, { serviceName: "pg", protocol: "postgres", username: "dana", database: "app" });
      const ev = (await f.auditEvents("cert.create")).filter((e) => e.db_service === "pg");
      assert.ok(ev.some((e) => e.user === "dana" && e.db_user === "dana" && e.db_name === "app"));
      // No database name: chosen when connecting, checked by the Database Service then.
      const r2 = await dana.generateUserCerts({ ...keys(), routeToDatabase: route("maria", "reader", "", "mysql") });
      assert.equal(decodeIdentity(r2.tlsCert).routeToDatabase?.protocol, "mysql");
    });

    test("refusals say why in one line", async () => {
      const dana = await api.asUser("dana");
      const ask = (r: ReturnType<typeof route>) => dana.generateUserCerts({ ...keys(), routeToDatabase: r });
      await refused(
        ask(route("pg", "admin")),
        "access-denied",
        /^access to database "pg" as database user "admin" denied: no role allows database user "admin"$/,
      );
      await refused(ask(route("pg", "dana", "other")), "access-denied", /no role allows database name "other"/);
      await refused(ask(route("pg", "dana", "billing")), "access-denied", /denied by role "no-billing": database name "billing" is denied/);
      await refused(ask(route("pg", "postgres")), "access-denied", /denied by role "no-billing": database user "postgres" is denied/);
      await refused(ask(route("prod", "dana")), "access-denied", /no role's db_labels match this database \(env=prod\)/);
      await refused(ask(route("vault", "dana")), "access-denied", /denied by role "no-secret": its deny db_labels match this database/);
      await refused(ask(route("nowhere", "dana")), "not-found", /database "nowhere" not found/);
      await refused(ask(route("pg", "")), "bad-parameter", /--db-user/);
      await refused(ask(route("pg", "dana", "", "mysql")), "bad-parameter", /speaks postgres, not mysql/);
      const audit = await f.auditEvents("auth");
      assert.ok(audit.some((e) => e.user === "dana" && e.method === "GenerateUserCerts" && String(e.error).includes('database user "admin"')));
    });

    test("an administrator's certificate for a user is checked against that user's roles", async () => {
      const admin = await api.asHost("admin");
      const ok = await admin.generateUserCerts({ ...keys(), user: "dana", routeToDatabase: route("pg", "reader", "test") });
      assert.equal(decodeIdentity(ok.tlsCert).routeToDatabase?.username, "reader");
      await refused(admin.generateUserCerts({ ...keys(), user: "dana", routeToDatabase: route("prod", "reader") }), "access-denied", /env=prod/);
    });
  });

  describe("GenerateDatabaseCert", () => {
    test("a Database Service gets a short client certificate for the database user, signed by the db CA", async () => {
      const db = await api.asHost("db", "db-host-1");
      const r = await db.generateDatabaseCert({ tlsPublicKey: keys().tlsPublicKey, dbUser: "alice", database: "pg" });
      const cert = new X509Certificate(r.cert);
      assert.equal(cert.subject, "CN=alice");
      assert.deepEqual(r.caCerts, f.ctx.authorities.get("db").tlsCerts);
      verifyChain(r.cert, r.caCerts, f.clock);
      assert.ok(new Date(cert.validTo).getTime() - Date.now() <= 10 * 60_000 + 1000);
      const long = await db.generateDatabaseCert({ tlsPublicKey: keys().tlsPublicKey, dbUser: "alice", ttlSeconds: 86_400n });
      assert.ok(new Date(long.expires).getTime() - Date.now() <= 3600_000 + 1000, "capped at an hour");
    });

    test("nobody else may ask for client certificates, and only administrators for server certificates", async () => {
      const tlsPublicKey = keys().tlsPublicKey;
      for (const c of [await api.asHost("node", "n1"), await api.asHost("proxy"), await api.asUser("dana")]) {
        await refused(c.generateDatabaseCert({ tlsPublicKey, dbUser: "alice" }), "access-denied", /only a Database Service may/);
      }
      const db = await api.asHost("db", "db-host-1");
      await refused(db.generateDatabaseCert({ tlsPublicKey, serverNames: ["pg.internal"] }), "access-denied", /only an administrator/);
      await refused(db.generateDatabaseCert({ tlsPublicKey, dbUser: "" }), "bad-parameter", /needs the database user/);
      await refused(api.anonymous().generateDatabaseCert({ tlsPublicKey, dbUser: "alice" }), "access-denied", /client certificate/);
    });

    test("jctl auth sign --format=db: a server certificate with the names as SANs", async () => {
      const admin = await api.asHost("admin");
      const r = await admin.generateDatabaseCert({ tlsPublicKey: keys().tlsPublicKey, serverNames: ["pg.internal", "localhost", "127.0.0.1"] });
      const cert = new X509Certificate(r.cert);
      assert.equal(cert.subject, "CN=pg.internal");
      assert.match(cert.subjectAltName ?? "", /DNS:pg.internal, DNS:localhost, IP Address:127.0.0.1/);
      assert.ok(new Date(cert.validTo).getTime() - Date.now() > 2000 * 3600_000);
      assert.ok((await f.auditEvents("cert.create")).some((e) => e.cert_type === "db"));
    });
  });
});
