/**
 * The MySQL engine against the real MariaDB on 127.0.0.1:3306, with the real
 * `mysql` client, `mysqlslap` and `mysql2`.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import mysql from "mysql2/promise";
import { createThrowawayMariadb, type ThrowawayMariadb } from "../../../../../test/harness/mariadb.ts";
import { AUDIT_KEEP } from "./audit.ts";
import { type EngineUnderTest, type Event, mysqlArgs, run, startEngine, target } from "./engine.test-helpers.ts";

let db: ThrowawayMariadb;
let engine: EngineUnderTest;

before(async () => {
  db = await createThrowawayMariadb();
  engine = await startEngine({
    database: target({
      auth: { kind: "password", user: db.user, password: db.password },
    }),
    refuseUsers: ["mallory"],
    refuseDatabases: ["forbidden"],
  });
});
after(async () => {
  await engine?.close();
  await db?.drop();
});

const ofSession = (sid: unknown) => engine.events.filter((e) => e.sid === sid);
const last = (event: string): Event | undefined => engine.events.filter((e) => e.event === event).at(-1);

test("mysql: select 1 works, and the session is audited", async () => {
  const r = await run("mysql", mysqlArgs(engine.port, db.user, db.name, ["-e", "select 1; select database()"]));
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `1\n${db.name}\n`);
  await engine.settled();
  const start = last("db.session.start");
  assert.equal(start?.success, true);
  assert.equal(start?.db_user, db.user);
  assert.equal(start?.db_name, db.name);
  assert.equal(start?.db_protocol, "mysql");
  assert.match(String(start?.["addr.remote"]), /^127\.0\.0\.1:\d+$/);
  const events = ofSession(start?.sid);
  assert.deepEqual(
    events.filter((e) => e.event === "db.session.query").map((e) => e.db_query),
    ["select 1", "select database()"],
  );
  assert.equal(events.at(-1)?.event, "db.session.end");
  assert.equal(events.at(-1)?.reason, "client-quit");
});

test("refusals reach the client as ERROR 1045 and are audited", async () => {
  const r = await run("mysql", mysqlArgs(engine.port, "mallory", db.name, ["-e", "select 1"]));
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^ERROR 1045 \(28000\): access to db denied: database user "mallory" is not allowed by your roles/);
  await engine.settled();
  assert.deepEqual([last("db.session.start")?.success, last("db.session.start")?.db_user], [false, "mallory"]);

  const db2 = await run("mysql", mysqlArgs(engine.port, db.user, "forbidden", ["-e", "select 1"]));
  assert.match(db2.stderr, /^ERROR 1045 \(28000\): access to db denied: database "forbidden"/);

  // Password login: only the configured account.
  const other = await run("mysql", mysqlArgs(engine.port, "someone_else", db.name, ["-e", "select 1"]));
  assert.match(other.stderr, /^ERROR 1045 \(28000\): database "maria" accepts only the database user/);
});

test("USE of a database outside the roles is refused and not passed on; the session goes on", async () => {
  const r = await run("mysql", mysqlArgs(engine.port, db.user, db.name, ["-e", "use forbidden"]));
  assert.match(r.stderr, /^ERROR 1044 \(42000\)( at line 1)?: access to db denied: database "forbidden" is not allowed by your roles/);
  const c = await mysql.createConnection({
    host: "127.0.0.1",
    port: engine.port,
    user: db.user,
    database: db.name,
  });
  try {
    await assert.rejects(c.query("USE `forbidden`"), (e: Error & { errno?: number }) => e.errno === 1044);
    const [rows] = await c.query("select database() as d");
    assert.deepEqual(rows, [{ d: db.name }]);
  } finally {
    await c.end();
  }
  await engine.settled();
  const refused = engine.events.filter((e) => e.event === "db.session.query" && e.success === false);
  assert.deepEqual(
    refused.slice(-2).map((e) => e.db_query),
    ["USE `forbidden`", "USE `forbidden`"],
  );
});

test("prepared statements through mysql2 are audited with their parameters", async () => {
  const c = await mysql.createConnection({
    host: "127.0.0.1",
    port: engine.port,
    user: db.user,
    password: "ignored",
    database: db.name,
  });
  try {
    await c.query("create table people (id int primary key, name varchar(50), born date, score double)");
    await c.execute("insert into people values (?, ?, ?, ?)", [1, "Ada", "1815-12-10", 9.5]);
    await c.execute("insert into people values (?, ?, ?, ?)", [2, null, "1906-12-09", -1.25]);
    const [rows] = await c.execute("select name from people where id = ? or score < ?", [1, 0]);
    assert.deepEqual(rows, [{ name: "Ada" }, { name: null }]);
    await assert.rejects(c.changeUser({ user: "root" }), /COM_CHANGE_USER is not supported/);
  } finally {
    await c.end().catch(() => undefined);
  }
  await engine.settled();
  const q = engine.events.filter((e) => e.event === "db.session.query" && String(e.db_query).includes("people"));
  assert.deepEqual(
    q.map((e) => [e.db_query, e.db_query_parameters]),
    [
      ["create table people (id int primary key, name varchar(50), born date, score double)", undefined],
      ["insert into people values (?, ?, ?, ?)", ["1", "Ada", "1815-12-10", "9.5"]],
      ["insert into people values (?, ?, ?, ?)", ["2", null, "1906-12-09", "-1.25"]],
      ["select name from people where id = ? or score < ?", ["1", "0"]],
    ],
  );
});

test("large packets and results stream through; LOCAL INFILE works", async () => {
  const file = join(tmpdir(), `jg-infile-${process.pid}.tsv`);
  writeFileSync(file, Array.from({ length: 20_000 }, (_, i) => `${i}\tname-${i}\n`).join(""));
  const big = "x".repeat(3_000_000);
  const sql = [
    "create table blobs (id int, body longtext)",
    `insert into blobs values (1, '${big}')`,
    "select length(body), md5(body) = md5(repeat('x', 3000000)) from blobs",
    "select length(repeat('y', 5000000))",
    "create table loaded (id int, name varchar(20))",
    `load data local infile '${file}' into table loaded`,
    "select count(*), sum(id) from loaded",
  ].join(";\n");
  const r = await run("mysql", mysqlArgs(engine.port, db.user, db.name, ["--local-infile=1", "--max-allowed-packet=16M"]), sql, 60_000);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `3000000\t1\n5000000\n20000\t199990000\n`);
  await engine.settled();
  // Audit keeps the first MiB of a statement and says it was cut.
  const insert = engine.events.find((e) => e.event === "db.session.query" && String(e.db_query).startsWith("insert into blobs"));
  assert.equal(insert?.truncated, true);
  assert.equal(String(insert?.db_query).length, AUDIT_KEEP - 1);
});

test("mysqlslap: many connections and queries", async () => {
  const r = await run(
    "mysqlslap",
    [
      "-h",
      "127.0.0.1",
      "-P",
      String(engine.port),
      "-u",
      db.user,
      "--skip-ssl",
      `--create-schema=${db.name}`,
      "--query=select 1",
      "--concurrency=8",
      "--iterations=2",
      "--number-of-queries=4000",
    ],
    undefined,
    120_000,
  );
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Average number of seconds to run all queries/);
});

test("query audit can be turned off per database", async () => {
  const quiet = await startEngine({
    database: target({
      auth: { kind: "password", user: db.user, password: db.password },
      auditQueries: false,
    }),
  });
  try {
    const r = await run("mysql", mysqlArgs(quiet.port, db.user, db.name, ["-e", "select 1"]));
    assert.equal(r.code, 0, r.stderr);
    await quiet.settled();
    assert.deepEqual(
      quiet.events.map((e) => e.event),
      ["db.session.start", "db.session.end"],
    );
  } finally {
    await quiet.close();
  }
});

test("the server going away mid-query gives the client ERROR 2013", async () => {
  // A relay between the engine and MariaDB that we cut while a query runs.
  const cut: net.Socket[] = [];
  const relay = net.createServer((c) => {
    const u = net.connect(3306, "127.0.0.1");
    c.pipe(u).pipe(c);
    cut.push(c, u);
    c.on("error", () => undefined);
    u.on("error", () => undefined);
  });
  await new Promise<void>((r) => relay.listen(0, "127.0.0.1", r));
  const port = (relay.address() as net.AddressInfo).port;
  const e = await startEngine({
    database: target({
      uri: `127.0.0.1:${port}`,
      auth: { kind: "password", user: db.user, password: db.password },
    }),
  });
  try {
    const running = run("mysql", mysqlArgs(e.port, db.user, db.name, ["-e", "select sleep(10)"]));
    await new Promise((r) => setTimeout(r, 700));
    for (const s of cut) s.destroy();
    const r = await running;
    assert.equal(r.code, 1);
    assert.match(r.stderr, /ERROR 2013 \(HY000\).*Lost connection/);
    await e.settled();
    assert.equal(e.events.at(-1)?.event, "db.session.end");
    assert.equal(e.events.at(-1)?.reason, "upstream-lost");
  } finally {
    await e.close();
    relay.close();
  }
});

test("the server refusing our login is passed on; an unreachable server is a clean error", async () => {
  const wrong = await startEngine({
    database: target({
      auth: { kind: "password", user: db.user, password: "wrong" },
    }),
  });
  const down = await startEngine({
    database: target({
      uri: "127.0.0.1:1",
      auth: { kind: "password", user: db.user, password: db.password },
    }),
  });
  try {
    const a = await run("mysql", mysqlArgs(wrong.port, db.user, db.name, ["-e", "select 1"]));
    assert.match(a.stderr, /^ERROR 1045 \(28000\): Access denied for user/);
    const b = await run("mysql", mysqlArgs(down.port, db.user, db.name, ["-e", "select 1"]));
    assert.match(b.stderr, /^ERROR 1105 \(08S01\): cannot connect to database "maria": cannot reach the database server/);
    await wrong.settled();
    await down.settled();
    assert.equal(down.events.at(-1)?.success, false);
  } finally {
    await wrong.close();
    await down.close();
  }
});
