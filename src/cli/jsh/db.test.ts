import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type DbConnectionConfig, envLines, pgConnString, pgSslMode, proxyHostPort, renderDatabases } from "./db.ts";

const cfg: DbConnectionConfig = {
  name: "pg",
  protocol: "postgres",
  host: "proxy.example.com",
  port: 3080,
  user: "alice",
  database: "app",
  ca: "/home/a/.jsh/keys/proxy.example.com_3080/cas/example.pem",
  cert: "/home/a/.jsh/keys/p/alice-db/example/pg.crt",
  key: "/home/a/my keys/pg.key",
  sslmode: "verify-full",
  valid_until: "2026-06-01T12:00:00Z",
};

describe("jsh db", () => {
  it("gives psql one connection string with the certificate options", () => {
    assert.equal(
      pgConnString(cfg, "test"),
      "sslmode=verify-full sslrootcert=/home/a/.jsh/keys/proxy.example.com_3080/cas/example.pem sslcert=/home/a/.jsh/keys/p/alice-db/example/pg.crt " +
        "sslkey='/home/a/my keys/pg.key' host=proxy.example.com port=3080 user=alice dbname=test",
    );
  });

  it("verifies the proxy's name, except for IP addresses and --insecure profiles", () => {
    assert.equal(pgSslMode({ proxy: "proxy.example.com:443", insecure: false }), "verify-full");
    assert.equal(pgSslMode({ proxy: "127.0.0.1:3080", insecure: false }), "verify-ca");
    assert.equal(pgSslMode({ proxy: "[::1]:3080", insecure: false }), "verify-ca");
    assert.equal(pgSslMode({ proxy: "proxy.example.com:443", insecure: true }), "verify-ca");
    assert.deepEqual(proxyHostPort({ proxy: "[::1]:3080" }), { host: "::1", port: 3080 });
    assert.throws(() => proxyHostPort({ proxy: "nohost" }), /not HOST:PORT/);
  });

  it("env prints PG* variables, quoted when needed; MySQL gets the tunnel hint", () => {
    assert.deepEqual(envLines(cfg), [
      "export PGHOST=proxy.example.com",
      "export PGPORT=3080",
      "export PGSSLMODE=verify-full",
      `export PGSSLROOTCERT=${cfg.ca}`,
      `export PGSSLCERT=${cfg.cert}`,
      "export PGSSLKEY='/home/a/my keys/pg.key'",
      "export PGUSER=alice",
      "export PGDATABASE=app",
    ]);
    assert.throws(() => envLines({ ...cfg, protocol: "mysql" }), /jsh proxy db pg --tunnel --port PORT/);
  });

  it("ls shows allowed users and names, and marks databases logged in to", () => {
    const rows = [
      {
        name: "pg",
        description: "main",
        protocol: "postgres",
        labels: { env: "dev", a: "1" },
        users: { allowed: ["alice"], denied: [] },
        names: { allowed: [], denied: [] },
      },
    ];
    const text = renderDatabases(rows, "text", ["pg"]).split("\n");
    assert.match(text[0] ?? "", /^Name +Protocol +Description +Allowed Users +Database Names +Labels$/);
    assert.match(text[2] ?? "", /^> pg +postgres +main +alice +\(none\) +a=1,env=dev$/);
    const json = JSON.parse(renderDatabases(rows, "json"));
    assert.deepEqual(json[0].allowed_users, ["alice"]);
    assert.equal(json[0].logged_in, false);
  });
});
