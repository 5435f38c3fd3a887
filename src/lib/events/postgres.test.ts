import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, test } from "node:test";
import { createThrowawayDatabase, type ThrowawayDatabase } from "../../../test/harness/postgres.ts";
import { isJumpgateError } from "../../api/errors.ts";
import { auditLogContract } from "./contract.test-suite.ts";
import { PostgresAuditLog } from "./postgres.ts";

let db: ThrowawayDatabase | undefined;
let why = "";
try {
  db = await createThrowawayDatabase();
} catch (e) {
  why = e instanceof Error ? e.message : String(e);
}

if (db === undefined) {
  test("PostgresAuditLog", { skip: `no PostgreSQL for tests: ${why}` }, () => {});
} else {
  const { connString } = db;
  after(() => db?.drop());

  auditLogContract("postgres", async (clock) => {
    const table = `audit_${randomBytes(4).toString("hex")}`;
    const log = await PostgresAuditLog.open({ connString, table, clock });
    return { log, reopen: () => PostgresAuditLog.open({ connString, table, clock }) };
  });

  test("several logs opening the same table at once all succeed", async () => {
    const table = `audit_${randomBytes(4).toString("hex")}`;
    const logs = await Promise.all([1, 2, 3].map(() => PostgresAuditLog.open({ connString, table })));
    await Promise.all(logs.map((l, i) => l.emit({ event: "exec", n: i })));
    const r = await logs[0]?.search({ from: new Date(0), to: new Date(Date.now() + 1000) });
    assert.equal(r?.events.length, 3);
    await Promise.all(logs.map((l) => l.close()));
  });

  test("an unreachable server is a connection problem", async () => {
    await assert.rejects(PostgresAuditLog.open({ connString: "postgres://postgres@127.0.0.1:1/none" }), (e) => isJumpgateError(e, "connection-problem"));
  });

  test("bad table names are refused", async () => {
    await assert.rejects(PostgresAuditLog.open({ connString, table: "x; drop" }), (e) => isJumpgateError(e, "bad-parameter"));
  });
}
