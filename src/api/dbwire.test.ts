import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { Duplex } from "node:stream";
import { describe, test } from "node:test";
import {
  classifyPgPreStartup,
  databaseFromSni,
  dbSni,
  decodeDbHeader,
  encodeDbHeader,
  looksLikePgPreStartup,
  MAX_DB_HEADER_BYTES,
  mysqlErrPacket,
  mysqlRefusalGreeting,
  pgErrorResponse,
  sendDbRefusal,
} from "./dbwire.ts";
import { isJumpgateError } from "./errors.ts";

const header = { cert: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", clientAddr: "10.0.0.1:5555", database: "pg" };

describe("database connection header", () => {
  test("round-trips and leaves what follows", () => {
    const wire = Buffer.concat([encodeDbHeader(header), Buffer.from("Q")]);
    const r = decodeDbHeader(wire);
    assert.equal(r.kind, "ok");
    if (r.kind !== "ok") return;
    assert.deepEqual(r.header, header);
    assert.equal(wire.subarray(r.consumed).toString(), "Q");
  });

  test("asks for more on every proper prefix", () => {
    const wire = encodeDbHeader(header);
    for (let i = 0; i < wire.length; i++) assert.deepEqual(decodeDbHeader(wire.subarray(0, i)), { kind: "need-more" }, `prefix ${i}`);
  });

  test("refuses wrong magic, oversized and malformed bodies", () => {
    const bad = (b: Buffer) =>
      assert.throws(
        () => decodeDbHeader(b),
        (e) => isJumpgateError(e, "bad-parameter"),
      );
    bad(Buffer.from("SSH-2.0"));
    const big = Buffer.from("JGDB\0\0\0\0");
    big.writeUInt32BE(MAX_DB_HEADER_BYTES + 1, 4);
    bad(big);
    const body = Buffer.from('{"v":2}');
    const len = Buffer.alloc(4);
    len.writeUInt32BE(body.length);
    bad(Buffer.concat([Buffer.from("JGDB"), len, body]));
    const notJson = Buffer.from("nope");
    len.writeUInt32BE(notJson.length);
    bad(Buffer.concat([Buffer.from("JGDB"), len, notJson]));
    assert.throws(() => encodeDbHeader({ ...header, cert: "x".repeat(MAX_DB_HEADER_BYTES) }));
  });

  test("random and mutated bytes never crash the parser", () => {
    const good = encodeDbHeader(header);
    for (let i = 0; i < 10_000; i++) {
      const input = i % 2 === 0 ? randomBytes(i % 64) : Buffer.from(good);
      if (i % 2 === 1) for (let k = 0; k < 3; k++) input[Math.floor(Math.random() * input.length)] = Math.floor(Math.random() * 256);
      try {
        decodeDbHeader(input);
      } catch (e) {
        if (!isJumpgateError(e, "bad-parameter")) throw e;
      }
    }
  });
});

describe("Postgres before TLS", () => {
  const pkt = (len: number, code: number) => {
    const b = Buffer.alloc(8);
    b.writeUInt32BE(len, 0);
    b.writeUInt32BE(code, 4);
    return b;
  };
  test("SSLRequest, GSSENCRequest, StartupMessage, CancelRequest", () => {
    assert.equal(classifyPgPreStartup(Buffer.from("0000000804d2162f", "hex")).kind, "ssl");
    assert.equal(classifyPgPreStartup(Buffer.from("0000000804d21630", "hex")).kind, "gssenc");
    assert.equal(classifyPgPreStartup(pkt(40, 196608)).kind, "startup");
    assert.equal(classifyPgPreStartup(pkt(16, 80877102)).kind, "cancel");
    assert.equal(classifyPgPreStartup(pkt(12, 80877103)).kind, "invalid");
    assert.equal(classifyPgPreStartup(pkt(1 << 20, 196608)).kind, "invalid");
    assert.equal(classifyPgPreStartup(Buffer.alloc(4)).kind, "need-more");
  });
  test("the multiplexer's guess", () => {
    assert.equal(looksLikePgPreStartup(Buffer.from("0000000804d2162f", "hex")), true);
    assert.equal(looksLikePgPreStartup(Buffer.from("000000", "hex")), undefined);
    assert.equal(looksLikePgPreStartup(Buffer.from("GET / HTTP/1.1")), false);
    assert.equal(looksLikePgPreStartup(pkt(8, 0x01020304)), false);
  });
});

describe("refusals", () => {
  test("a Postgres ErrorResponse: FATAL, 28000, the message", () => {
    const b = pgErrorResponse("access to db denied");
    assert.equal(b.subarray(0, 1).toString(), "E");
    assert.equal(b.readUInt32BE(1), b.length - 1);
    assert.deepEqual(b.subarray(5).toString().split("\0"), ["SFATAL", "VFATAL", "C28000", "Maccess to db denied", "", ""]);
  });
  test("a MySQL ERR packet: 1045, #28000, the message, sequence 0", () => {
    const b = mysqlErrPacket("access to db denied");
    assert.equal(b.readUIntLE(0, 3), b.length - 4);
    assert.equal(b[3], 0);
    assert.equal(b[4], 0xff);
    assert.equal(b.readUInt16LE(5), 1045);
    assert.equal(b.subarray(7, 13).toString(), "#28000");
    assert.equal(b.subarray(13).toString(), "access to db denied");
  });
});

describe("the database a client names in its SNI", () => {
  test("round-trips; other server names name none", () => {
    assert.equal(databaseFromSni(dbSni("pg-1_a")), "pg-1_a");
    assert.equal(databaseFromSni("proxy.example.com"), undefined);
    assert.equal(databaseFromSni(".db.jumpgate.invalid"), undefined);
    assert.equal(databaseFromSni(false), undefined);
    assert.equal(databaseFromSni(undefined), undefined);
  });
});

/** A stream whose writes are collected and whose reads are pushed by the test. */
function fakeClient(): { s: Duplex; written: Buffer[]; ended: Promise<void> } {
  const written: Buffer[] = [];
  let done: () => void = () => undefined;
  const ended = new Promise<void>((r) => (done = r));
  const s = new Duplex({
    read() {},
    write(chunk: Buffer, _enc, cb) {
      written.push(chunk);
      cb();
    },
    final(cb) {
      done();
      cb();
    },
  });
  return { s, written, ended };
}

describe("sending a refusal", () => {
  test("MySQL: a greeting without TLS, then ERR 1045 answering the client's login", async () => {
    const g = mysqlRefusalGreeting();
    assert.equal(g.readUIntLE(0, 3), g.length - 4);
    assert.equal(g[3], 0);
    assert.equal(g[4], 10);
    const caps = g.readUInt16LE(4 + 1 + "8.0.0-Jumpgate".length + 1 + 4 + 9);
    assert.equal(caps & 0x800, 0, "no SSL capability");
    assert.equal(caps & 0x200, 0x200, "protocol 4.1");
    const c = fakeClient();
    sendDbRefusal(c.s, "mysql", "access to db denied: no");
    assert.equal(c.written.length, 1);
    assert.equal(c.written[0]?.[4], 10);
    c.s.push(Buffer.from([3, 0, 0, 1, 0, 0, 0]));
    await c.ended;
    const err = c.written.at(-1) ?? Buffer.alloc(0);
    assert.equal(err[3], 2, "sequence: the client's plus one");
    assert.equal(err[4], 0xff);
    assert.equal(err.readUInt16LE(5), 1045);
    assert.equal(err.subarray(13).toString(), "access to db denied: no");
  });
  test("Postgres: the ErrorResponse after the client's first message", async () => {
    const c = fakeClient();
    sendDbRefusal(c.s, "postgres", "access to db denied: no");
    assert.equal(c.written.length, 0);
    c.s.push(Buffer.from("0000000804d2162f", "hex"));
    await c.ended;
    assert.equal(c.written.at(-1)?.subarray(0, 1).toString(), "E");
  });
  test("a silent client gets the error after the wait", async () => {
    const c = fakeClient();
    sendDbRefusal(c.s, "mysql", "late", 10);
    await c.ended;
    assert.equal(c.written.at(-1)?.[3], 0);
    assert.equal(c.written.at(-1)?.subarray(13).toString(), "late");
  });
});
