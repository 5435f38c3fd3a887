import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { QueryAuditor, type QueryRecord } from "./audit.ts";
import { BackendFramer, BackendReader, type FrontendItem, FrontendReader, type PgMessage, takeStartupPacket } from "./codec.ts";
import { PgProtocolError } from "./errors.ts";
import * as msg from "./messages.ts";
import { allFixtures, fixture, resplit } from "./testdata.test-helpers.ts";

function readAll(chunks: Buffer[], reader = new FrontendReader()): FrontendItem[] {
  return chunks.flatMap((c) => reader.feed(c));
}
const messages = (items: FrontendItem[]): PgMessage[] => items.flatMap((i) => ("message" in i ? [i.message] : []));
function audit(name: string): QueryRecord[] {
  const a = new QueryAuditor();
  return messages(readAll(fixture(name))).flatMap((m) => a.onMessage(m) ?? []);
}
function serverMessages(name: string): PgMessage[] {
  const r = new BackendReader();
  return fixture(name).flatMap((c) => r.feed(c));
}

describe("frontend reader on real client bytes", () => {
  test("psql: SSLRequest, StartupMessage, Query, Terminate", () => {
    const items = readAll(fixture("psql-select1.0.client"));
    assert.deepEqual(items[0], { startup: { kind: "ssl" } });
    const s = items[1];
    assert.ok(s && "startup" in s && s.startup.kind === "startup");
    assert.equal(s.startup.minor, 0);
    assert.deepEqual(
      [...s.startup.params],
      [
        ["user", "postgres"],
        ["database", "postgres"],
        ["application_name", "psql-capture"],
      ],
    );
    assert.deepEqual(
      messages(items).map((m) => m.type),
      ["Q", "X"],
    );
    assert.equal(msg.decodeQuery(messages(items)[0]?.body ?? Buffer.alloc(0)), "select 1");
  });

  test("every capture reads the same however it is split", () => {
    for (const [name, chunks] of allFixtures("client")) {
      const whole = readAll(chunks);
      for (const size of [1, 2, 3, 7, 64]) assert.deepEqual(readAll(resplit(chunks, size)), whole, `${name} in pieces of ${size}`);
    }
  });

  test("pgbench -M extended: one record per Execute with its parameters", () => {
    const recs = audit("pgbench-extended.1.client");
    assert.equal(recs.length, 3);
    for (const r of recs) {
      assert.equal(r.db_query, "SELECT $1::int + 1 AS n, 'row-' || $2 AS label;");
      assert.equal(r.db_query_parameters?.length, 2);
      assert.match(r.db_query_parameters?.[0] ?? "", /^\d+$/);
      assert.equal(r.db_statement, undefined);
    }
  });

  test("pgbench -M prepared: a named statement parsed once, executed three times", () => {
    const recs = audit("pgbench-prepared.1.client");
    assert.equal(recs.length, 3);
    assert.ok(recs.every((r) => r.db_statement === "P_0" && r.db_query.startsWith("SELECT $1::int")));
  });

  test("node pg: text and binary parameters, named statement", () => {
    assert.deepEqual(audit("node-pg-params.0.client"), [
      {
        db_query: "select $1::text as t, $2::int as n, $3::bytea as b",
        db_query_parameters: ["hello 'world'", "42", "\\xdeadbeef"],
      },
      {
        db_query: "select $1::int + 1 as x",
        db_query_parameters: ["7"],
        db_statement: "named1",
      },
    ]);
    const bind = messages(readAll(fixture("node-pg-params.0.client"))).find((m) => m.type === "B");
    assert.deepEqual(msg.decodeBind(bind?.body ?? Buffer.alloc(0)).paramFormats, [0, 0, 1]);
    const parse = messages(readAll(fixture("node-pg-params.0.client"))).find((m) => m.type === "P");
    assert.deepEqual(msg.decodeParse(parse?.body ?? Buffer.alloc(0)).paramTypes, []);
  });

  test("psql COPY FROM STDIN: CopyData passes without being kept", () => {
    const reader = new FrontendReader({
      keep: (t) => (t === 0x64 ? 0 : Number.POSITIVE_INFINITY),
    });
    const ms = messages(readAll(fixture("psql-copy-in.0.client"), reader));
    assert.deepEqual(
      ms.map((m) => m.type),
      ["Q", "Q", "d", "c", "Q", "X"],
    );
    const data = ms[2];
    assert.ok(data?.truncated && data.body.length === 0 && data.length === 15);
    assert.deepEqual(
      audit("psql-copy-in.0.client").map((r) => r.db_query),
      ["create temp table t(a int, b text);", "COPY t FROM STDIN;", "select count(*) from t;"],
    );
  });

  test("psql cancel: the CancelRequest names the key from BackendKeyData", () => {
    const key = serverMessages("psql-cancel.0.server").find((m) => m.type === "K");
    const k = msg.decodeBackendKeyData(key?.body ?? Buffer.alloc(0));
    const [cancel] = readAll(fixture("psql-cancel.1.client"));
    assert.deepEqual(cancel, {
      startup: { kind: "cancel", pid: k.pid, secret: k.secret },
    });
  });

  test("takeStartupPacket peels packets and leaves the rest", () => {
    const all = Buffer.concat(fixture("psql-select1.0.client"));
    const first = takeStartupPacket(all);
    assert.equal(first?.packet.kind, "ssl");
    const second = takeStartupPacket(first?.rest ?? Buffer.alloc(0));
    assert.equal(second?.packet.kind, "startup");
    assert.equal(second?.rest[0], 0x51);
    assert.equal(takeStartupPacket(all.subarray(0, 6)), undefined);
  });
});

describe("backend reader on real server bytes", () => {
  test("SCRAM-SHA-256 login", () => {
    const ms = serverMessages("server-scram.0.server");
    const auth = ms.filter((m) => m.type === "R").map((m) => msg.decodeAuthentication(m.body).kind);
    assert.deepEqual(auth, ["sasl", "sasl-continue", "sasl-final", "ok"]);
    assert.deepEqual(msg.decodeAuthentication(ms[0]?.body ?? Buffer.alloc(0)), {
      kind: "sasl",
      mechanisms: ["SCRAM-SHA-256"],
    });
    const status = ms.filter((m) => m.type === "S").map((m) => msg.decodeParameterStatus(m.body));
    assert.ok(status.some((s) => s.name === "server_version" && s.value.startsWith("15.")));
    assert.ok(ms.some((m) => m.type === "K"));
    assert.equal(msg.decodeReadyForQuery(ms.find((m) => m.type === "Z")?.body ?? Buffer.alloc(0)), "I");
  });

  test("MD5 and cleartext requests", () => {
    const md5 = msg.decodeAuthentication(serverMessages("server-md5.0.server")[0]?.body ?? Buffer.alloc(0));
    assert.equal(md5.kind, "md5");
    assert.equal(md5.kind === "md5" && md5.salt.length, 4);
    assert.deepEqual(msg.decodeAuthentication(serverMessages("server-cleartext.0.server")[0]?.body ?? Buffer.alloc(0)), { kind: "cleartext" });
  });

  test("errors: wrong password, missing database, notice then error", () => {
    const code = (name: string) => msg.decodeFields(serverMessages(name).find((m) => m.type === "E")?.body ?? Buffer.alloc(0));
    assert.equal(code("server-badpassword.0.server").get("C"), "28P01");
    assert.equal(code("server-nodb.0.server").get("C"), "3D000");
    assert.equal(code("server-nodb.0.server").get("S"), "FATAL");
    const notice = serverMessages("server-notice.0.server").find((m) => m.type === "N");
    assert.equal(msg.decodeFields(notice?.body ?? Buffer.alloc(0)).get("M"), "hello 1");
    assert.equal(code("server-notice.0.server").get("C"), "22012");
  });

  test("our encoders produce the server's own bytes", () => {
    const raw = Buffer.concat(fixture("server-scram.0.server"));
    for (const m of [
      msg.authenticationOk(),
      msg.readyForQuery("I"),
      msg.parameterStatus("client_encoding", "UTF8"),
      msg.parameterStatus("DateStyle", "ISO, MDY"),
    ]) {
      assert.ok(raw.includes(m), m.toString("hex"));
    }
    const e = msg.errorResponse({
      severity: "FATAL",
      code: "28000",
      message: "no",
      detail: "d",
      hint: "h",
    });
    const [back] = new BackendReader().feed(e);
    assert.deepEqual(
      [...msg.decodeFields(back?.body ?? Buffer.alloc(0))],
      [
        ["S", "FATAL"],
        ["V", "FATAL"],
        ["C", "28000"],
        ["M", "no"],
        ["D", "d"],
        ["H", "h"],
      ],
    );
    assert.deepEqual(msg.errorResponseFrom(msg.decodeFields(back?.body ?? Buffer.alloc(0))), e);
    const k = msg.backendKeyData(7, Buffer.from("abcd"));
    assert.deepEqual(msg.decodeBackendKeyData(k.subarray(5)), {
      pid: 7,
      secret: Buffer.from("abcd"),
    });
  });

  test("the framer passes bytes through whole messages, however split", () => {
    for (const [name, captured] of allFixtures("server")) {
      // The one-byte answer to an SSLRequest comes before any message.
      const chunks = captured[0]?.length === 1 ? captured.slice(1) : captured;
      const all = Buffer.concat(chunks);
      for (const size of [1, 3, 50, 4096]) {
        const f = new BackendFramer(16);
        const out = Buffer.concat(resplit(chunks, size).flatMap((c) => f.push(c)));
        assert.ok(f.atBoundary(), `${name}/${size}`);
        assert.deepEqual(out, all, `${name}/${size}`);
      }
    }
  });

  test("the framer holds back a small partial message and streams a large one", () => {
    const row = msg.message("D", Buffer.alloc(100, 1));
    const f = new BackendFramer(1000);
    assert.deepEqual(f.push(row.subarray(0, 50)), []);
    assert.equal(f.canInterject(), true);
    assert.deepEqual(Buffer.concat(f.push(row.subarray(50))), row);
    const big = msg.message("D", Buffer.alloc(5000, 2));
    assert.deepEqual(Buffer.concat(f.push(big.subarray(0, 10))), big.subarray(0, 10));
    assert.equal(f.canInterject(), false);
    assert.deepEqual(Buffer.concat(f.push(big.subarray(10))), big.subarray(10));
    assert.equal(f.canInterject(), true);
    assert.equal(f.lastType, "D");
  });
});

describe("malformed input gives typed errors", () => {
  const cases: Array<[string, Buffer, boolean?]> = [
    ["startup length below 8", Buffer.from("0000000400000000", "hex")],
    ["startup length above the cap", Buffer.from("0001000000030000", "hex")],
    ["protocol 2.0", Buffer.from("0000000800020000", "hex")],
    ["unknown request code", Buffer.from("0000000804d2ffff", "hex")],
    ["no user", Buffer.from("0000000e0003000061006200000000", "hex").subarray(0, 14)],
    ["unterminated parameters", Buffer.from("0000000d00030000757365720061", "hex").subarray(0, 13)],
    ["unknown message type", Buffer.from("7a00000004", "hex"), true],
    ["message length below 4", Buffer.from("5100000003", "hex"), true],
    ["message above 1 GiB", Buffer.from("5140000004", "hex"), true],
    ["bytes after a cancel request", Buffer.from("0000001004d2162e000000010000000200", "hex")],
  ];
  for (const [name, bytes, typed] of cases) {
    test(name, () => {
      const r = new FrontendReader({ typed: typed ?? false });
      assert.throws(() => r.feed(bytes), PgProtocolError);
    });
  }

  test("decoders reject short and inconsistent bodies", () => {
    assert.throws(() => msg.decodeQuery(Buffer.from("abc")), PgProtocolError);
    assert.throws(() => msg.decodeParse(Buffer.from("\0q\0\0\x01", "latin1")), PgProtocolError);
    assert.throws(() => msg.decodeBind(Buffer.from("\0\0\0\x02\0\0\0\0\0\x01\0\0\0\x01a\0\0", "latin1")), PgProtocolError);
    assert.throws(() => msg.decodeBind(Buffer.from("\0\0\0\0\0\x01\xff\xff\xff\xfe\0\0", "latin1")), PgProtocolError);
    assert.throws(() => msg.decodeTarget(Buffer.from("Xname\0"), "Close"), PgProtocolError);
    assert.throws(() => msg.decodeAuthentication(Buffer.from([0, 0, 0, 5, 1])), PgProtocolError);
  });

  test("a partial message never completes or throws", () => {
    const r = new FrontendReader({ typed: true });
    assert.deepEqual(r.feed(Buffer.from("5100001000", "hex")), []);
    assert.equal(r.atBoundary(), false);
  });
});
