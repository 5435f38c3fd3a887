/**
 * The engine against the real PostgreSQL on 127.0.0.1:5432 with real psql,
 * pgbench and node-postgres clients.
 */
import assert from "node:assert/strict";
import net from "node:net";
import { after, before, describe, test } from "node:test";
import pg from "pg";
import { createThrowawayDatabase, ensurePostgres, type ThrowawayDatabase } from "../../../../../test/harness/postgres.ts";
import type { DatabaseTarget } from "../engine.ts";
import { cancelKeyCount } from "./cancel.ts";
import { type EngineUnderTest, ofType, psql, run, startEngine, target } from "./engine.test-helpers.ts";

let db: ThrowawayDatabase;
let pgUser: string;
let base: DatabaseTarget;

before(async () => {
  await ensurePostgres();
  db = await createThrowawayDatabase();
  const url = new URL(db.connString);
  pgUser = decodeURIComponent(url.username);
  base = target({
    auth: {
      kind: "password",
      user: pgUser,
      password: decodeURIComponent(url.password) || "unused",
    },
  });
});
after(async () => {
  await db?.drop();
});

async function withEngine(opts: Partial<Parameters<typeof startEngine>[0]>, f: (e: EngineUnderTest) => Promise<void>): Promise<void> {
  const e = await startEngine({ database: base, refuse: ["mallory"], ...opts });
  try {
    await f(e);
  } finally {
    await e.close();
  }
}

describe("postgres engine against the real server", () => {
  test("psql select 1, forwarded parameters, audit start/query/end", async () => {
    await withEngine({}, async (e) => {
      const r = await psql(e.port, pgUser, db.name, ["-c", "select 1", "-c", "show application_name"]);
      assert.equal(r.stderr, "");
      assert.equal(r.stdout, "1\njumpgate-test\n");
      await e.settled();
      const [start] = ofType(e.events, "db.session.start");
      assert.equal(start?.success, true);
      assert.equal(start?.db_user, pgUser);
      assert.equal(start?.db_name, db.name);
      assert.equal(start?.db_protocol, "postgres");
      assert.match(String(start?.addr_remote), /^127\.0\.0\.1:\d+$/);
      assert.deepEqual(
        ofType(e.events, "db.session.query").map((q) => q.db_query),
        ["select 1", "show application_name"],
      );
      const [end] = ofType(e.events, "db.session.end");
      assert.equal(end?.sid, start?.sid);
      assert.equal(end?.reason, "client-closed");
      assert.equal(cancelKeyCount(), 0);
    });
  });

  test("a refused database user sees the reason in psql's error", async () => {
    await withEngine({}, async (e) => {
      const r = await psql(e.port, "mallory", db.name, ["-c", "select 1"]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /psql: error: .*FATAL: {2}access to db denied: database user "mallory"/);
      await e.settled();
      assert.deepEqual(
        e.events.map((x) => [x.event, x.success, x.db_user]),
        [["db.session.start", false, "mallory"]],
      );
      assert.match(String(e.events[0]?.error), /access to db denied/);
    });
  });

  test("password login serves only the configured account", async () => {
    await withEngine({}, async (e) => {
      const r = await psql(e.port, "someone_else", db.name, ["-c", "select 1"]);
      assert.match(r.stderr, new RegExp(`FATAL: {2}database "pg" accepts only the database user "${pgUser}"`));
    });
  });

  test("the server's own refusal reaches the client (missing database)", async () => {
    await withEngine({}, async (e) => {
      const r = await psql(e.port, pgUser, "no_such_db_here", ["-c", "select 1"]);
      assert.match(r.stderr, /FATAL: {2}database "no_such_db_here" does not exist/);
      await e.settled();
      assert.equal(ofType(e.events, "db.session.start")[0]?.success, false);
    });
  });

  test("pgbench -M extended -t 20: every Execute audited with its parameters", async () => {
    await withEngine({}, async (e) => {
      const script = "\\set aid random(1, 100000)\nSELECT :aid::int + 1 AS n, 'row-' || :aid AS label;\n";
      const { writeFileSync, mkdtempSync, rmSync } = await import("node:fs");
      const dir = mkdtempSync("/tmp/jg-pgbench-");
      writeFileSync(`${dir}/s.sql`, script);
      try {
        const r = await run("pgbench", [
          "-h",
          "127.0.0.1",
          "-p",
          String(e.port),
          "-U",
          pgUser,
          "-n",
          "-M",
          "extended",
          "-t",
          "20",
          "-c",
          "2",
          "-f",
          `${dir}/s.sql`,
          db.name,
        ]);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /number of transactions actually processed: 40\/40/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
      await e.settled();
      const qs = ofType(e.events, "db.session.query");
      assert.equal(qs.length, 40);
      for (const q of qs) {
        assert.equal(q.db_query, "SELECT $1::int + 1 AS n, 'row-' || $2 AS label;");
        const p = q.db_query_parameters as string[];
        assert.equal(p.length, 2);
        assert.equal(p[0], p[1]);
      }
    });
  });

  test("node-postgres with text and binary parameters; audit can be turned off", async () => {
    await withEngine({}, async (e) => {
      const c = new pg.Client({
        host: "127.0.0.1",
        port: e.port,
        user: pgUser,
        database: db.name,
      });
      await c.connect();
      const res = await c.query("select $1::text as t, $2::bytea as b", ["it's", Buffer.from([1, 2, 255])]);
      assert.deepEqual(res.rows, [{ t: "it's", b: Buffer.from([1, 2, 255]) }]);
      await c.end();
      await e.settled();
      assert.deepEqual(ofType(e.events, "db.session.query")[0]?.db_query_parameters, ["it's", "\\x0102ff"]);
    });
    await withEngine({ database: { ...base, auditQueries: false } }, async (e) => {
      const r = await psql(e.port, pgUser, db.name, ["-c", "select 2"]);
      assert.equal(r.stdout, "2\n");
      await e.settled();
      assert.deepEqual(
        e.events.map((x) => x.event),
        ["db.session.start", "db.session.end"],
      );
    });
  });

  test("COPY of 10 000 rows to stdout arrives complete and in order; COPY FROM STDIN works", async () => {
    await withEngine({}, async (e) => {
      const r = await psql(e.port, pgUser, db.name, ["-c", "COPY (select generate_series(1,10000)) TO STDOUT"]);
      assert.equal(r.stderr, "");
      const rows = r.stdout.trimEnd().split("\n");
      assert.equal(rows.length, 10000);
      assert.ok(rows.every((v, i) => v === String(i + 1)));
      const data = Array.from({ length: 5000 }, (_, i) => `${i}\trow ${i}`).join("\n");
      const w = await psql(e.port, pgUser, db.name, ["-f", "-"], {
        input: `create temp table t(a int, b text);\nCOPY t FROM STDIN;\n${data}\n\\.\nselect count(*), sum(a) from t;\n`,
      });
      assert.equal(w.stderr, "");
      assert.equal(w.stdout.trim(), "5000|12497500");
    });
  });

  test("a cancel from psql (Ctrl-C) reaches the server through our cancel key", async () => {
    await withEngine({}, async (e) => {
      const started = Date.now();
      const r = await psql(e.port, pgUser, db.name, ["-c", "select pg_sleep(20)"], {
        onStart: (pid) => setTimeout(() => process.kill(pid, "SIGINT"), 1000),
      });
      assert.match(r.stderr, /canceling statement due to user request/);
      assert.ok(Date.now() - started < 10_000);
    });
  });

  test("a cancel key is honoured only for the session's owner", async () => {
    const { lookupCancelKey, registerCancelKey } = await import("./cancel.ts");
    const reg = registerCancelKey({
      user: "alice",
      database: "pg",
      key: { pid: 1, secret: Buffer.alloc(4) },
      cancel: async () => undefined,
    });
    assert.ok(lookupCancelKey(reg.key.pid, reg.key.secret, "alice", "pg"));
    assert.equal(lookupCancelKey(reg.key.pid, reg.key.secret, "bob", "pg"), undefined);
    assert.equal(lookupCancelKey(reg.key.pid, Buffer.from("nope"), "alice", "pg"), undefined);
    reg.release();
    assert.equal(lookupCancelKey(reg.key.pid, reg.key.secret, "alice", "pg"), undefined);
  });

  for (const when of ["while the server is busy", "in the middle of a result stream"] as const) {
    test(`losing the server ${when} gives psql a clean error`, async () => {
      // A relay between the engine and the server that we can cut.
      const sockets = new Set<net.Socket>();
      let relayed = 0;
      let cut: () => void = () => undefined;
      const relay = net.createServer((c) => {
        const u = net.connect(5432, "127.0.0.1");
        sockets.add(c).add(u);
        c.pipe(u);
        u.on("data", (d: Buffer) => {
          relayed += d.length;
          if (when === "in the middle of a result stream" && relayed > 200_000) cut();
        });
        u.pipe(c);
        c.on("error", () => undefined);
        u.on("error", () => undefined);
      });
      cut = () => {
        for (const s of sockets) s.resetAndDestroy();
      };
      await new Promise<void>((r) => relay.listen(0, "127.0.0.1", r));
      const port = (relay.address() as net.AddressInfo).port;
      try {
        await withEngine({ database: { ...base, uri: `127.0.0.1:${port}` } }, async (e) => {
          const sql = when === "while the server is busy" ? "select pg_sleep(20)" : "COPY (select generate_series(1,2000000)) TO STDOUT";
          const r = await psql(e.port, pgUser, db.name, ["-c", sql], {
            onStart: () => when === "while the server is busy" && setTimeout(cut, 1000),
          });
          assert.notEqual(r.code, 0);
          assert.match(r.stderr, /FATAL: {2}connection to the database was lost/);
          await e.settled();
          const [end] = ofType(e.events, "db.session.end");
          assert.equal(end?.reason, "upstream-lost");
        });
      } finally {
        cut();
        relay.close();
      }
    });
  }

  test("malformed startup bytes get an ErrorResponse, not a crash", async () => {
    await withEngine({}, async (e) => {
      for (const bytes of ["00000004ffffffff", "0000000800020000", "00000009000300000075", "474554202f20485454502f312e310d0a0d0a"]) {
        const reply = await new Promise<Buffer>((resolve) => {
          const s = net.connect(e.port, "127.0.0.1", () => s.write(Buffer.from(bytes, "hex")));
          const got: Buffer[] = [];
          s.on("data", (d) => got.push(d));
          s.on("close", () => resolve(Buffer.concat(got)));
          s.on("error", () => undefined);
        });
        assert.equal(String.fromCharCode(reply[0] ?? 0), "E", bytes);
      }
      const r = await psql(e.port, pgUser, db.name, ["-c", "select 3"]);
      assert.equal(r.stdout, "3\n");
    });
  });
});
