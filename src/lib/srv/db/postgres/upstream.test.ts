/**
 * Server logins the shared test server cannot show (it trusts 127.0.0.1 and
 * has no TLS): a private cluster with SCRAM-SHA-256, MD5, cleartext and
 * client-certificate logins over TLS.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { DatabaseTarget } from "../engine.ts";
import { ofType, psql, startEngine, target } from "./engine.test-helpers.ts";
import { PASSWORD, startCluster, type TestCluster } from "./pgcluster.test-helpers.ts";
import { parseUri } from "./upstream.ts";

let cluster: TestCluster | undefined;

before(async () => {
  cluster = await startCluster();
});
after(() => cluster?.stop());

async function select(
  database: DatabaseTarget,
  user: string,
  opts: {
    credentials?: (u: string) => { cert: string; key: string; cas: string[] };
  } = {},
) {
  const e = await startEngine({ database, ...opts });
  try {
    const r = await psql(e.port, user, "postgres", ["-c", "select current_user, coalesce(ssl, false) from pg_stat_ssl where pid = pg_backend_pid()"]);
    await e.settled();
    return { ...r, events: e.events };
  } finally {
    await e.close();
  }
}

describe("server logins", {
  skip: process.getuid?.() !== 0 ? "needs root to run a private PostgreSQL" : false,
}, () => {
  const at = () => `127.0.0.1:${cluster?.port}`;
  const password = (user: string, pw = PASSWORD): DatabaseTarget => target({ uri: at(), auth: { kind: "password", user, password: pw } });

  for (const user of ["scram_user", "md5_user", "clear_user"]) {
    test(`password login: ${user}`, async () => {
      const r = await select(password(user), user);
      assert.equal(r.stderr, "");
      assert.equal(r.stdout, `${user}|f\n`);
    });
  }

  test("a wrong password: the server's refusal reaches psql, audited as a failed start", async () => {
    const r = await select(password("scram_user", "wrong"), "scram_user");
    assert.match(r.stderr, /FATAL: {2}password authentication failed for user "scram_user"/);
    assert.equal(ofType(r.events, "db.session.start")[0]?.success, false);
  });

  test("TLS verify-full with a client certificate from the db CA", async () => {
    const c = cluster;
    assert.ok(c);
    const db = target({
      uri: at(),
      tls: { mode: "verify-full", caCerts: [c.caCert] },
      auth: { kind: "cert" },
    });
    const r = await select(db, "cert_user", {
      credentials: (u) => ({ ...c.clientCert(u), cas: [c.caCert] }),
    });
    assert.equal(r.stderr, "");
    assert.equal(r.stdout, "cert_user|t\n");
  });

  test("TLS with SCRAM; a server certificate for another name fails verify-full", async () => {
    const c = cluster;
    assert.ok(c);
    const ok = await select(
      {
        ...password("scram_user"),
        tls: { mode: "verify-full", caCerts: [c.caCert] },
      },
      "scram_user",
    );
    assert.equal(ok.stdout, "scram_user|t\n");
    const bad = await select(
      {
        ...password("scram_user"),
        tls: {
          mode: "verify-full",
          caCerts: [c.caCert],
          serverName: "db.example.com",
        },
      },
      "scram_user",
    );
    assert.match(bad.stderr, /FATAL: {2}cannot connect to database "pg": TLS with the database server failed/);
    const ca = await select(
      {
        ...password("scram_user"),
        tls: {
          mode: "verify-ca",
          caCerts: [c.caCert],
          serverName: "db.example.com",
        },
      },
      "scram_user",
    );
    assert.equal(ca.stdout, "scram_user|t\n");
  });

  test("certificate login against a server that asks for a password is refused clearly", async () => {
    const c = cluster;
    assert.ok(c);
    const db = target({
      uri: at(),
      tls: { mode: "verify-full", caCerts: [c.caCert] },
      auth: { kind: "cert" },
    });
    const r = await select(db, "scram_user", {
      credentials: (u) => ({ ...c.clientCert(u), cas: [c.caCert] }),
    });
    assert.match(r.stderr, /asked for a password, but database "pg" is set up for certificate login/);
  });

  test("a cancel over TLS reaches the server", async () => {
    const c = cluster;
    assert.ok(c);
    const e = await startEngine({
      database: {
        ...password("scram_user"),
        tls: { mode: "verify-full", caCerts: [c.caCert] },
      },
    });
    try {
      const r = await psql(e.port, "scram_user", "postgres", ["-c", "select pg_sleep(20)"], {
        onStart: (pid) => setTimeout(() => process.kill(pid, "SIGINT"), 1000),
      });
      assert.match(r.stderr, /canceling statement due to user request/);
    } finally {
      await e.close();
    }
  });
});

test("a server without TLS is refused when the database requires it", async () => {
  const r = await select(target({ tls: { mode: "verify-full" } }), "postgres");
  assert.match(r.stderr, /FATAL: {2}cannot connect to database "pg": database "pg" is set up for TLS but its server does not accept TLS/);
});

test("database addresses", () => {
  assert.deepEqual(parseUri("db.internal:6432"), {
    host: "db.internal",
    port: 6432,
  });
  assert.deepEqual(parseUri("db.internal"), {
    host: "db.internal",
    port: 5432,
  });
  assert.deepEqual(parseUri("[::1]:5433"), { host: "::1", port: 5433 });
  assert.deepEqual(parseUri("postgres://10.0.0.1:5432"), {
    host: "10.0.0.1",
    port: 5432,
  });
  assert.throws(() => parseUri("host:99999"));
});
