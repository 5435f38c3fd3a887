import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isJumpgateError } from "../errors.ts";
import { auditsQueries, databaseLabels } from "./db.ts";
import { dbServerDatabase, dbServerName } from "./db-server.ts";
import { parseResource, parseResourceOf } from "./parse.ts";

const db = (spec: unknown, name = "pg", labels: Record<string, string> = { env: "dev" }) => ({
  kind: "db",
  version: "v3",
  metadata: { name, labels },
  spec,
});
const server = (over: Record<string, unknown> = {}, name = "pg@host-1") => ({
  kind: "db_server",
  version: "v3",
  metadata: { name, expires: "2026-06-01T12:10:00Z" },
  spec: { host_id: "host-1", hostname: "db-agent", version: "0.1.0", database: db({ protocol: "postgres", uri: "127.0.0.1:5432" }), ...over },
});

const problem = (d: unknown): string => {
  try {
    parseResource(d);
  } catch (e) {
    assert.ok(isJumpgateError(e, "bad-parameter"), String(e));
    return e.message;
  }
  assert.fail("expected a bad-parameter error");
};

describe("db resource", () => {
  it("accepts Teleport's shape with tls, dynamic labels and Jumpgate's audit and auth switches", () => {
    const r = parseResourceOf(
      "db",
      db({
        protocol: "mysql",
        uri: "mariadb.internal:3306",
        tls: { mode: "verify-ca", ca_cert: "-----BEGIN CERTIFICATE-----\n...", server_name: "mariadb" },
        dynamic_labels: { arch: { period: "1m", command: ["uname", "-m"], result: "x86_64" } },
        audit_queries: false,
        auth: { type: "password", user: "jumpgate", password_env: "MARIADB_PASSWORD" },
        aws: {},
      }),
    );
    assert.equal(r.spec.protocol, "mysql");
    assert.deepEqual(databaseLabels(r), { env: "dev", arch: "x86_64" });
    assert.equal(auditsQueries(r), false);
    assert.equal(auditsQueries(parseResourceOf("db", db({ protocol: "postgres", uri: "[::1]:5432" }))), true);
  });

  it("refuses what would not work, naming the field", () => {
    const cases: Array<[unknown, string]> = [
      [db({ protocol: "mongodb", uri: "h:1" }), 'db "pg": spec.protocol: expected one of "postgres", "mysql", got "mongodb"'],
      [
        db({ protocol: "postgres", uri: "postgres://h:5432/db" }),
        'db "pg": spec.uri: invalid uri "postgres://h:5432/db": use HOST:PORT, like "db.example.com:5432"',
      ],
      [db({ protocol: "postgres", uri: "h:70000" }), 'db "pg": spec.uri: invalid uri "h:70000": use HOST:PORT, like "db.example.com:5432"'],
      [db({ protocol: "postgres" }), 'db "pg": spec.uri: required'],
      [
        db({ protocol: "postgres", uri: "h:1", tls: { mode: "strict" } }),
        'db "pg": spec.tls.mode: expected one of "verify-full", "verify-ca", "insecure", got "strict"',
      ],
      [
        db({ protocol: "postgres", uri: "h:1" }, "prod.pg"),
        "db \"prod.pg\": metadata.name: a database name must be 1 to 63 letters, digits, '-' or '_', starting and ending with a letter or digit",
      ],
      [
        db({ protocol: "postgres", uri: "h:1", auth: { type: "password", user: "u" } }),
        'db "pg": spec.auth: password authentication needs exactly one of password_file or password_env',
      ],
      [db({ protocol: "postgres", uri: "h:1", auth: { type: "cert", user: "u" } }), 'db "pg": spec.auth.user: only used with type: password'],
      [db({ protocol: "postgres", uri: "h:1", audit_query: false }), 'db "pg": spec.audit_query: unknown field (did you mean "audit_queries"?)'],
      [{ ...db({ protocol: "postgres", uri: "h:1" }), version: "v2" }, 'db "pg": version: unsupported version "v2" for kind db; supported: v3'],
    ];
    for (const [d, message] of cases) assert.equal(problem(d), message);
  });
});

describe("db_server resource", () => {
  it("is named database@host, and carries the database with its labels", () => {
    assert.equal(dbServerName("pg", "host-1"), "pg@host-1");
    const s = parseResourceOf("db_server", server());
    assert.equal(s.spec.database.metadata.name, "pg");
    assert.deepEqual(dbServerDatabase(s).labels, { env: "dev" });
  });

  it("refuses a name that is not database@host_id, and a bad embedded database", () => {
    assert.equal(problem(server({}, "pg")), 'db_server "pg": metadata.name: must be "pg@host-1" (database name @ host id)');
    assert.equal(problem(server({ host_id: "host-2" })), 'db_server "pg@host-1": metadata.name: must be "pg@host-2" (database name @ host id)');
    assert.equal(
      problem(server({ database: db({ protocol: "oracle", uri: "h:1" }) })),
      'db_server "pg@host-1": spec.database.spec.protocol: expected one of "postgres", "mysql", got "oracle"',
    );
    assert.equal(problem(server({ hostname: "" })), 'db_server "pg@host-1": spec.hostname: must not be empty');
  });
});
