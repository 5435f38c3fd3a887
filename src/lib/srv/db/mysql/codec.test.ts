import assert from "node:assert/strict";
import { test } from "node:test";
import { isJumpgateError } from "../../../../api/errors.ts";
import { ClientFramer, framePacket, MAX_FRAGMENT, type MysqlPacket, PacketScanner, packet } from "./codec.ts";
import { COM, decodePrepareOk, decodeStmtExecute, TYPE } from "./commands.ts";
import { MysqlProtocolError } from "./errors.ts";
import * as m from "./messages.ts";
import { recorded } from "./testdata.test-helpers.ts";

test("framing: round trip, byte by byte, continuation packets", () => {
  for (const size of [0, 1, 250, 70_000, MAX_FRAGMENT - 1, MAX_FRAGMENT, MAX_FRAGMENT + 10, 2 * MAX_FRAGMENT]) {
    const payload = Buffer.alloc(size, 0x61);
    if (size > 0) payload[0] = 0x03;
    const { bytes, nextSeq } = framePacket(5, payload);
    const fragments = Math.floor(size / MAX_FRAGMENT) + 1;
    assert.equal(bytes.length, size + 4 * fragments, `size ${size}`);
    assert.equal(nextSeq, (5 + fragments) & 0xff);
    const s = new PacketScanner({ maxPacketBytes: 1 << 26 });
    const ps = s.push(bytes);
    assert.equal(ps.length, 1);
    assert.equal(ps[0]?.length, size);
    assert.equal(ps[0]?.seq, 5);
    assert.equal(ps[0]?.lastSeq, (5 + fragments - 1) & 0xff);
    assert.ok(ps[0]?.payload.equals(payload));
  }
  // Byte by byte, several packets.
  const stream = Buffer.concat([packet(0, Buffer.from("\x03select 1")), packet(0, Buffer.alloc(0)), packet(1, Buffer.from("\x01"))]);
  const s = new PacketScanner({ maxPacketBytes: 100 });
  const got: MysqlPacket[] = [];
  for (const b of stream) got.push(...s.push(Buffer.from([b])));
  assert.deepEqual(
    got.map((p) => [p.seq, p.payload.toString("latin1")]),
    [
      [0, "\x03select 1"],
      [0, ""],
      [1, "\x01"],
    ],
  );
});

test("framing: partial input waits, oversized input is a typed error, keep truncates", () => {
  const s = new PacketScanner({ maxPacketBytes: 10 });
  assert.deepEqual(s.push(Buffer.from([5, 0])), []);
  assert.equal(s.atBoundary, false);
  assert.deepEqual(s.push(Buffer.from([0, 0, 1, 2])), []);
  assert.throws(
    () => new PacketScanner({ maxPacketBytes: 10 }).push(Buffer.from([11, 0, 0, 0])),
    (e) => isJumpgateError(e, "limit-exceeded"),
  );
  const k = new PacketScanner({
    maxPacketBytes: 1000,
    keep: (first) => (first === 3 ? 4 : 0),
  });
  const [a, b] = k.push(Buffer.concat([packet(0, Buffer.from("\x03select 1")), packet(1, Buffer.from("\x05abc"))]));
  assert.deepEqual([a?.payload.toString(), a?.truncated, a?.length], ["\x03sel", true, 9]);
  assert.deepEqual([b?.payload.length, b?.truncated], [0, true]);
});

test("client framer: small packets whole, large ones streamed with their first bytes", () => {
  const f = new ClientFramer({
    smallBytes: 16,
    keepBytes: 8,
    maxPacketBytes: 1 << 20,
  });
  const big = Buffer.concat([Buffer.from([COM.QUERY]), Buffer.alloc(100, 0x78)]);
  const stream = Buffer.concat([packet(0, Buffer.from("\x03select 1")), packet(0, big), packet(0, Buffer.from("\x01"))]);
  const units = [...f.push(stream.subarray(0, 20)), ...f.push(stream.subarray(20, 60)), ...f.push(stream.subarray(60))];
  assert.deepEqual(
    units.map((u) => u.kind),
    ["packet", "start", "more", "more", "more", "packet"],
  );
  const raw = Buffer.concat(units.flatMap((u) => (u.kind === "start" ? [] : [u.raw])));
  assert.ok(raw.equals(stream), "every byte is passed on once, in order");
  const end = units.find((u) => u.kind === "more" && u.packet !== undefined);
  assert.ok(end?.kind === "more" && end.packet?.truncated && end.packet.payload.length === 8 && end.packet.length === 101);
});

test("handshake: the real MariaDB greeting decodes, and ours encodes to the same shape", () => {
  const [greet] = recorded("mysql-cli", "server");
  assert.ok(greet);
  const g = m.decodeGreeting(greet.payload);
  assert.match(g.serverVersion, /MariaDB/);
  assert.equal(g.scramble.length, 20);
  assert.equal(g.authPlugin, "mysql_native_password");
  assert.ok(g.capabilities & m.CAP.PROTOCOL_41 && g.capabilities & m.CAP.PLUGIN_AUTH);
  assert.equal(g.capabilities & m.CAP.LONG_PASSWORD, 0, "MariaDB clears CLIENT_MYSQL and sends extended flags");
  assert.notEqual(g.mariadbCapabilities, 0);
  const scramble = Buffer.from("abcdefghijklmnopqrst");
  const ours = m.decodeGreeting(
    m.encodeGreeting({
      serverVersion: "8.0.0-Jumpgate",
      connectionId: 7,
      scramble,
      capabilities: m.SERVER_CAPS,
      mariadbCapabilities: 0,
      charset: 45,
      status: 2,
      authPlugin: "mysql_native_password",
    }),
  );
  assert.deepEqual(ours, {
    protocolVersion: 10,
    serverVersion: "8.0.0-Jumpgate",
    connectionId: 7,
    scramble,
    capabilities: m.SERVER_CAPS,
    mariadbCapabilities: 0,
    charset: 45,
    status: 2,
    authPlugin: "mysql_native_password",
  });
  assert.equal(m.SERVER_CAPS & m.CAP.SSL, 0, "TLS is never offered");
});

test("handshake: the mysql client's and mysql2's HandshakeResponse41", () => {
  const [cli] = recorded("mysql-cli", "client");
  const r = m.decodeClientLogin(cli?.payload ?? Buffer.alloc(0));
  assert.equal(r.kind, "response");
  if (r.kind !== "response") return;
  assert.equal(r.response.user, "jg_capture");
  assert.equal(r.response.database, "jg_capture");
  assert.equal(r.response.authPlugin, "mysql_native_password");
  assert.equal(r.response.authResponse.length, 20);
  assert.equal(r.response.attributes.get("program_name"), "mysql");
  // Re-encoding gives the same bytes.
  assert.ok(m.encodeHandshakeResponse(r.response).equals(cli?.payload ?? Buffer.alloc(0)));

  const [m2] = recorded("mysql2-prepared", "client");
  const r2 = m.decodeClientLogin(m2?.payload ?? Buffer.alloc(0));
  assert.ok(r2.kind === "response" && r2.response.user === "jg_capture" && r2.response.database === "jg_capture");
});

test("handshake: a client asking for TLS sends an SSLRequest, which we recognize", () => {
  const [ssl] = recorded("ssl-request", "client");
  const r = m.decodeClientLogin(ssl?.payload ?? Buffer.alloc(0));
  assert.equal(r.kind, "ssl-request");
});

test("OK, ERR and auth switch packets", () => {
  const err = m.decodeErr(m.encodeErr(1045, "28000", "access denied: nope"));
  assert.deepEqual(err, {
    errno: 1045,
    sqlState: "28000",
    message: "access denied: nope",
  });
  assert.equal(m.okOrEofStatus(m.encodeOk({ status: 0x000a, affectedRows: 300 })), 0x000a);
  assert.equal(m.okOrEofStatus(Buffer.from("fe00000a00", "hex")), 0x000a);
  assert.deepEqual(m.decodeAuthSwitch(m.encodeAuthSwitch("mysql_clear_password", Buffer.alloc(0))), { plugin: "mysql_clear_password", data: Buffer.alloc(0) });
  // The server's own OK after login, as recorded.
  const [, ok] = recorded("mysql-cli", "server");
  assert.equal(ok?.payload[0], 0);
  assert.ok(m.okOrEofStatus(ok?.payload ?? Buffer.alloc(0)) & m.STATUS.AUTOCOMMIT);
});

test("COM_STMT_EXECUTE: every common type, the NULL bitmap, rebinding and long data", () => {
  const exec = (types: [number, boolean][] | undefined, nulls: number, values: Buffer) =>
    Buffer.concat([
      Buffer.from([COM.STMT_EXECUTE, 9, 0, 0, 0, 0, 1, 0, 0, 0, nulls & 0xff, (nulls >> 8) & 0xff]),
      Buffer.from([types ? 1 : 0]),
      types ? Buffer.from(types.flatMap(([t, u]) => [t, u ? 0x80 : 0])) : Buffer.alloc(0),
      values,
    ]);
  const types: [number, boolean][] = [
    [TYPE.TINY, false],
    [TYPE.SHORT, true],
    [TYPE.LONG, false],
    [TYPE.LONGLONG, false],
    [TYPE.FLOAT, false],
    [TYPE.DOUBLE, false],
    [TYPE.DATE, false],
    [TYPE.DATETIME, false],
    [TYPE.TIME, false],
    [TYPE.VAR_STRING, false],
    [TYPE.NULL, false],
  ];
  const f = Buffer.alloc(4);
  f.writeFloatLE(1.5);
  const d = Buffer.alloc(8);
  d.writeDoubleLE(-2.25);
  const ll = Buffer.alloc(8);
  ll.writeBigInt64LE(-9007199254740993n);
  const values = Buffer.concat([
    Buffer.from([0xff]),
    Buffer.from([0xff, 0xff]),
    Buffer.from([0xfe, 0xff, 0xff, 0xff]),
    ll,
    f,
    d,
    Buffer.from([4, 0xe8, 0x07, 2, 29]),
    Buffer.from([11, 0xe8, 0x07, 12, 31, 23, 59, 58, 0x40, 0xe2, 0x01, 0x00]),
    Buffer.from([8, 1, 1, 0, 0, 0, 2, 3, 4]),
    Buffer.from([3, 0x61, 0x62, 0x63]),
  ]);
  const e = decodeStmtExecute(exec(types, 1 << 10, values), types.length, undefined);
  assert.deepEqual(e.params, ["-1", "65535", "-2", "-9007199254740993", "1.5", "-2.25", "2024-02-29", "2024-12-31 23:59:58.123456", "-26:03:04", "abc", null]);
  // Not rebinding: the earlier types apply. Parameter 0 is NULL, parameter 1 was sent as long data.
  const two = decodeStmtExecute(
    exec(undefined, 1, Buffer.alloc(0)),
    2,
    [
      { type: TYPE.TINY, unsigned: false },
      { type: TYPE.BLOB, unsigned: false },
    ],
    new Set([1]),
  );
  assert.deepEqual(two.params, [null, undefined]);
  assert.throws(() => decodeStmtExecute(exec(undefined, 0, Buffer.from([1])), 1, undefined), MysqlProtocolError);
  assert.deepEqual(decodePrepareOk(Buffer.from("000100000006000600000000", "hex")), { statementId: 1, columns: 6, params: 6 });
});
