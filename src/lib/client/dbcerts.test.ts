import assert from "node:assert/strict";
import { existsSync, mkdtempSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { toProto } from "../../api/convert.ts";
import { isJumpgateError } from "../../api/errors.ts";
import { issueUserCerts } from "../auth/certs.ts";
import { startTestApi } from "../auth/testing/api.ts";
import { authFixture } from "../auth/testing/fixture.ts";
import type { UserResource } from "../auth/users.ts";
import { validateResource } from "../auth/validate.ts";
import { generateKeySet } from "../crypto/index.ts";
import { dbCertPaths, dbLogin, findDbCert, listDatabases, listDbCerts, loadDbCert, removeDbCerts } from "./dbcerts.ts";
import { type Profile, saveProfile } from "./profile.ts";

type Fixture = Awaited<ReturnType<typeof authFixture>>;
type Api = Awaited<ReturnType<typeof startTestApi>>;

const dbServer = (name: string, labels: Record<string, string>, protocol = "postgres") => ({
  kind: "db_server",
  version: "v3",
  metadata: { name: `${name}@db-host` },
  spec: {
    host_id: "db-host",
    hostname: "db-host",
    database: { kind: "db", version: "v3", metadata: { name, labels, description: `${name} db` }, spec: { protocol, uri: "127.0.0.1:5432" } },
  },
});

describe("jsh db: listing, login and the saved certificates", () => {
  let f: Fixture;
  let api: Api;
  let home: string;
  let profile: Profile;
  before(async () => {
    f = await authFixture({ secondFactor: "off" }, new Date());
    api = await startTestApi(f.server);
    await f.ctx.stores.roles.upsert(
      validateResource({
        kind: "role",
        version: "v7",
        metadata: { name: "pg-dev" },
        spec: { allow: { db_labels: { env: "dev" }, db_users: ["{{internal.db_users}}"], db_names: ["app"] } },
      }),
    );
    await f.ctx.stores.roles.upsert(
      validateResource({
        kind: "role",
        version: "v7",
        metadata: { name: "multi" },
        spec: { allow: { db_labels: { env: "qa" }, db_users: ["a", "b"], db_names: ["*"] } },
      }),
    );
    await f.addUser("dana", ["pg-dev", "multi"], { db_users: ["dana"] });
    const db = await api.asHost("db", "db-host");
    for (const s of [dbServer("pg", { env: "dev" }), dbServer("qa", { env: "qa" }, "mysql"), dbServer("prod", { env: "prod" })]) {
      await db.upsertResource({ resource: toProto(validateResource(s)), overwrite: true });
    }
    // A profile as `jsh login` saves it, with dana's certificates.
    home = mkdtempSync(join(tmpdir(), "jsh-db-"));
    const k = generateKeySet();
    const certs = await issueUserCerts(f.ctx, (await f.ctx.stores.users.get("dana")) as UserResource, k, undefined);
    profile = { proxy: "proxy.example.com:3080", user: "dana", cluster: "unit.test", insecure: false };
    saveProfile(
      profile,
      {
        sshKey: k.ssh.privateKey,
        sshCert: certs.sshCert,
        tlsKey: k.tls.privateKey,
        tlsCert: certs.tlsCert,
        hostCaCerts: certs.hostCaCerts,
        userCaCerts: certs.tlsCaCerts,
        knownHosts: [],
      },
      k.sshPublicKey,
      home,
    );
    process.env.JSH_HOME = home;
  });
  after(async () => {
    delete process.env.JSH_HOME;
    await api?.close();
    await f?.close();
  });

  test("ls shows the databases Auth lets the user see, with the users and names his own roles allow", async () => {
    const dana = await api.asUser("dana");
    const rows = await listDatabases(dana, profile);
    assert.deepEqual(
      rows.map((r) => [r.name, r.protocol, r.description, r.users.allowed, r.names.allowed]),
      [
        ["pg", "postgres", "pg db", ["dana"], ["app"]],
        ["qa", "mysql", "qa db", ["a", "b"], ["*"]],
      ],
    );
  });

  test("login saves a key and a certificate carrying the route, one per database", async () => {
    const dana = await api.asUser("dana");
    const c = await dbLogin(dana, profile, { name: "pg" }, home);
    assert.deepEqual(c.route, { serviceName: "pg", protocol: "postgres", username: "dana", database: "app" });
    const paths = dbCertPaths(profile, "pg", home);
    assert.equal(statSync(paths.key).mode & 0o777, 0o600);
    assert.ok(existsSync(paths.ca), "the host CA that verifies the proxy");
    assert.equal(loadDbCert(profile, "pg", new Date(), home).cas.length, 1);
    const qa = await dbLogin(dana, profile, { name: "qa", dbUser: "b" }, home);
    assert.deepEqual(qa.route, { serviceName: "qa", protocol: "mysql", username: "b", database: "" });
    assert.deepEqual(listDbCerts(profile, home), ["pg", "qa"]);
    assert.deepEqual(removeDbCerts(profile, "qa", home), ["qa"]);
    assert.equal(findDbCert(profile, "qa", home), undefined);
    assert.deepEqual(listDbCerts(profile, home), ["pg"]);
  });

  test("login refuses with one line: unknown or hidden database, ambiguous or forbidden user", async () => {
    const dana = await api.asUser("dana");
    const refused = async (p: Promise<unknown>, re: RegExp) =>
      assert.rejects(p, (e: unknown) => {
        assert.ok(isJumpgateError(e), String(e));
        assert.match(e.message, re);
        return true;
      });
    await refused(dbLogin(dana, profile, { name: "prod" }, home), /database "prod" not found or not allowed; see jsh db ls/);
    await refused(dbLogin(dana, profile, { name: "qa" }, home), /name the database user with --db-user; your roles allow: a, b/);
    await refused(
      dbLogin(dana, profile, { name: "pg", dbUser: "postgres" }, home),
      /access to database "pg" as database user "postgres" and database name "app" denied: no role allows database user "postgres"/,
    );
    await refused(dbLogin(dana, profile, { name: "pg", dbName: "billing" }, home), /database name "billing"/);
    assert.throws(() => loadDbCert(profile, "qa", new Date(), home), /not logged in to database "qa"; run: jsh db login qa/);
  });

  test("a user reads the roles he holds, and no others", async () => {
    const dana = await api.asUser("dana");
    assert.equal((await dana.getResource({ kind: "role", name: "pg-dev" })).metadata?.name, "pg-dev");
    await assert.rejects(dana.getResource({ kind: "role", name: "editor" }), /may not read role/);
  });
});
