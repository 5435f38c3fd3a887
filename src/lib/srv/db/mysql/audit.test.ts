import assert from "node:assert/strict";
import { test } from "node:test";
import { SessionTracker, useStatementTarget } from "./audit.ts";
import type { MysqlPacket } from "./codec.ts";
import { COM } from "./commands.ts";
import { recorded } from "./testdata.test-helpers.ts";

test("commands of the mysql client, with the server's responses followed to the end", () => {
  const client = recorded("mysql-cli", "client").slice(1);
  const server = recorded("mysql-cli", "server").slice(2);
  const t = new SessionTracker(false);
  const audited: string[] = [];
  for (const c of client) {
    const rec = t.onCommand(c);
    if (rec) audited.push(rec.db_query);
    // The client waits for each response: feed server packets until the tracker says it is over.
    while (!t.idle) {
      const s = server.shift();
      assert.ok(s, `response to 0x${c.payload[0]?.toString(16)} is complete`);
      t.onServerPacket(s);
    }
  }
  assert.equal(server.length, 0, "every server packet belongs to a response");
  assert.deepEqual(audited, [
    "select 1",
    "create table t (id int primary key, name varchar(20), at datetime)",
    "insert into t values (1,'a','2024-01-02 03:04:05'),(2,null,null)",
    "select * from t",
    "SELECT DATABASE()",
    "USE `jg_capture`",
    "select @@version",
  ]);
});

test("prepared statements of mysql2: ids from the server, typed parameters", () => {
  const client = recorded("mysql2-prepared", "client").slice(1);
  const server = recorded("mysql2-prepared", "server").slice(2);
  const t = new SessionTracker(false);
  const audited: unknown[] = [];
  for (const c of client) {
    const rec = t.onCommand(c);
    if (rec) audited.push(rec);
    while (!t.idle) {
      const s = server.shift();
      assert.ok(s);
      t.onServerPacket(s);
    }
  }
  assert.equal(server.length, 0);
  assert.equal(audited.length, 3);
  const [first, second, third] = audited as {
    db_query: string;
    db_query_parameters?: (string | null)[];
    db_statement_id?: number;
  }[];
  assert.equal(first?.db_query, "select ? as a, ? as b, ? as c, ? as d, ? as e, ? as f");
  assert.equal(first?.db_statement_id, 1);
  const p = first?.db_query_parameters ?? [];
  assert.deepEqual(p.slice(0, 4), ["42", "héllo", null, "3.5"]);
  assert.match(p[4] ?? "", /^2024-01-0[12] \d\d:04:05/);
  assert.equal(p[5], "0x0001ff");
  assert.deepEqual([second?.db_query, second?.db_query_parameters, second?.db_statement_id], ["select * from t where id = ?", ["-7"], 2]);
  assert.equal(third?.db_query, "select 2");
});

test("the tracker with CLIENT_DEPRECATE_EOF, multiple results and LOCAL INFILE", () => {
  const t = new SessionTracker(true);
  const pk = (hex: string, seq = 1): MysqlPacket => {
    const payload = Buffer.from(hex, "hex");
    return {
      seq,
      lastSeq: seq,
      payload,
      length: payload.length,
      truncated: false,
    };
  };
  const q = (sql: string) => pk(Buffer.concat([Buffer.from([COM.QUERY]), Buffer.from(sql)]).toString("hex"), 0);
  t.onCommand(q("call p()"));
  // Result set: 1 column, definition, a row, then an OK (0xFE) with SERVER_MORE_RESULTS_EXISTS, then a final OK.
  for (const h of ["01", "03646566000000016100000c3f00000000000680000000", "0131", "fe00000a0000"]) t.onServerPacket(pk(h));
  assert.equal(t.idle, false);
  t.onServerPacket(pk("0000000200000000"));
  assert.ok(t.idle);
  // A prepare with DEPRECATE_EOF: no EOF after the definitions.
  t.onCommand(pk(Buffer.concat([Buffer.from([COM.STMT_PREPARE]), Buffer.from("select ?")]).toString("hex"), 0));
  for (const h of ["000700000001000100000000", "03646566000000013f00000c3f00000000000680000000", "03646566000000013f00000c3f00000000000680000000"])
    t.onServerPacket(pk(h));
  assert.ok(t.idle);
  const rec = t.onCommand(pk("17070000000001000000000101033f", 0));
  assert.deepEqual(rec, {
    db_query: "select ?",
    db_statement_id: 7,
    db_query_parameters: ["63"],
  });
  t.onServerPacket(pk("00000000000000"));
  // LOCAL INFILE: the server asks for a file, the client sends data (whatever its first byte), then an empty packet.
  t.onCommand(q("load data local infile 'x' into table t"));
  t.onServerPacket(pk("fb78"));
  assert.ok(t.clientSendsData);
  t.onClientData(pk("0201", 2));
  assert.ok(t.clientSendsData);
  t.onClientData(pk("", 3));
  assert.equal(t.clientSendsData, false);
  t.onServerPacket(pk("00010000000000", 4));
  assert.ok(t.idle);
});

test("USE statements are recognized for the RBAC check", () => {
  assert.equal(useStatementTarget("use foo"), "foo");
  assert.equal(useStatementTarget("  USE `we``ird db` ;"), "we`ird db");
  assert.equal(useStatementTarget("select 1; use foo"), undefined);
  assert.equal(useStatementTarget("user()"), undefined);
});
