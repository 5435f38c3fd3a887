import assert from "node:assert/strict";
import { test } from "node:test";
import { isJumpgateError } from "../../../api/errors.ts";
import { encodeV1, encodeV2, type ParseResult, parseProxyHeader, V2_SIGNATURE } from "./index.ts";

/**
 * Captured from HAProxy 2.6.12 (Debian 12) in TCP mode, with a client that
 * sent "SSH-2.0-fixture\r\n" right after connecting: `send-proxy`,
 * `send-proxy-v2`, `send-proxy-v2 proxy-v2-options unique-id,crc32c`, and the
 * LOCAL header of a `check-send-proxy` health check. Each is header + payload.
 */
const HAPROXY = {
  v1Tcp4: "50524f58592054435034203132372e302e302e31203132372e302e302e312035363932302032323030300d0a5353482d322e302d666978747572650d0a",
  v1Tcp6: "50524f58592054435036203a3a31203a3a312033373933302032323031300d0a5353482d322e302d666978747572650d0a",
  v2Inet: "0d0a0d0a000d0a515549540a2111000c7f0000017f0000018c3255f15353482d322e302d666978747572650d0a",
  v2Inet6: "0d0a0d0a000d0a515549540a2121002400000000000000000000000000000001000000000000000000000000000000018d5455fb5353482d322e302d666978747572650d0a",
  v2InetTlvs: "0d0a0d0a000d0a515549540a211100167f0000017f000001e75655f20300044252addc0500005353482d322e302d666978747572650d0a",
  v2Inet6Tlvs:
    "0d0a0d0a000d0a515549540a2121002e00000000000000000000000000000001000000000000000000000000000000018b9255fc0300048ac6a0e60500005353482d322e302d666978747572650d0a",
  v2Local: "0d0a0d0a000d0a515549540a20000000",
};
const PAYLOAD = "SSH-2.0-fixture\r\n";
const hex = (s: string) => Buffer.from(s, "hex");

function header(r: ParseResult) {
  assert.equal(r.kind, "header");
  return r.kind === "header" ? r : assert.fail();
}

function bad(buf: Buffer | string, re: RegExp) {
  assert.throws(
    () => parseProxyHeader(typeof buf === "string" ? Buffer.from(buf, "latin1") : buf),
    (e: unknown) => isJumpgateError(e, "bad-parameter") && re.test(e.message),
  );
}

test("HAProxy's v1 lines: TCP4 and TCP6, and the payload is left alone", () => {
  const four = hex(HAPROXY.v1Tcp4);
  const r4 = header(parseProxyHeader(four));
  assert.deepEqual(r4.header, {
    version: 1,
    command: "proxy",
    family: "tcp4",
    source: { address: "127.0.0.1", port: 56920 },
    destination: { address: "127.0.0.1", port: 22000 },
  });
  assert.equal(four.subarray(r4.consumed).toString(), PAYLOAD);
  const six = hex(HAPROXY.v1Tcp6);
  const r6 = header(parseProxyHeader(six));
  assert.deepEqual(r6.header, {
    version: 1,
    command: "proxy",
    family: "tcp6",
    source: { address: "::1", port: 37930 },
    destination: { address: "::1", port: 22010 },
  });
  assert.equal(six.subarray(r6.consumed).toString(), PAYLOAD);
});

test("HAProxy's v2 headers: IPv4, IPv6, with TLVs, and LOCAL", () => {
  for (const [name, family, address, port] of [
    ["v2Inet", "tcp4", "127.0.0.1", 35890],
    ["v2Inet6", "tcp6", "::1", 36180],
    ["v2InetTlvs", "tcp4", "127.0.0.1", 59222],
    ["v2Inet6Tlvs", "tcp6", "::1", 35730],
  ] as const) {
    const buf = hex(HAPROXY[name]);
    const r = header(parseProxyHeader(buf));
    assert.equal(r.header.command, "proxy", name);
    if (r.header.command !== "proxy") continue;
    assert.equal(r.header.version, 2);
    assert.equal(r.header.family, family, name);
    assert.deepEqual(r.header.source, { address, port }, name);
    assert.equal(r.header.destination.address, address, name);
    assert.equal(buf.subarray(r.consumed).toString(), PAYLOAD, name);
  }
  const local = header(parseProxyHeader(hex(HAPROXY.v2Local)));
  assert.deepEqual(local, { kind: "header", header: { version: 2, command: "local" }, consumed: 16 });
});

test("every prefix of a valid header asks for more bytes", () => {
  for (const h of Object.values(HAPROXY)) {
    const buf = hex(h);
    const full = header(parseProxyHeader(buf)).consumed;
    for (let n = 1; n < full; n++) assert.deepEqual(parseProxyHeader(buf.subarray(0, n)), { kind: "need-more" }, `${h} at ${n}`);
  }
});

test("v1: UNKNOWN, and the spec's worst-case line of 107 bytes", () => {
  assert.deepEqual(parseProxyHeader(Buffer.from("PROXY UNKNOWN\r\nxyz")), { kind: "header", header: { version: 1, command: "unknown" }, consumed: 15 });
  const v6 = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
  const longest = `PROXY UNKNOWN ${v6} ${v6} 65535 65535\r\n`;
  assert.equal(longest.length, 107);
  assert.equal(header(parseProxyHeader(Buffer.from(longest))).consumed, 107);
  const tcp6 = `PROXY TCP6 ${v6} ${v6} 65535 65535\r\n`;
  assert.equal(header(parseProxyHeader(Buffer.from(tcp6))).consumed, tcp6.length);
});

test("v1: malformed lines are bad parameters", () => {
  bad(`PROXY UNKNOWN ${"x".repeat(120)}\r\n`, /longer than 107/);
  bad(`PROXY TCP4 ${"1".repeat(100)}`, /longer than 107/);
  bad("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", /line feed without carriage return/);
  bad("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX", /carriage return without line feed/);
  bad("PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n", /TCP4, TCP6 or UNKNOWN/);
  bad("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", /4 fields/);
  bad("PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n", /4 fields/);
  bad("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n", /4 fields/);
  bad("PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n", /invalid IPv4/);
  bad("PROXY TCP4 ::1 5.6.7.8 1 2\r\n", /invalid IPv4/);
  bad("PROXY TCP6 1.2.3.4 ::1 1 2\r\n", /invalid IPv6/);
  bad("PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n", /port out of range/);
  bad("PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n", /invalid port/);
  bad("PROXY TCP4 1.2.3.4 5.6.7.8 022 2\r\n", /invalid port/);
  bad("PROXY TCP4 1.2.3.4 5.6.7.8 1 0x2\r\n", /invalid port/);
  bad("PROXY TCP4 1.2.3.4\x00 5.6.7.8 1 2\r\n", /unexpected byte/);
  bad("PROXY TCP4 1.2.3.4\x00", /unexpected byte/);
  bad("PROXYX", /not a PROXY/);
  bad("GET / HTTP/1.1\r\n", /not a PROXY/);
});

test("v2: malformed headers are bad parameters", () => {
  const v4 = encodeV2({ source: { address: "203.0.113.7", port: 4242 }, destination: { address: "10.0.0.1", port: 443 } });
  const withByte = (i: number, b: number) => {
    const c = Buffer.from(v4);
    c[i] = b;
    return c;
  };
  bad(withByte(12, 0x11), /unsupported version/);
  bad(withByte(12, 0x22), /unknown command/);
  bad(withByte(13, 0x41), /unknown address family/);
  bad(withByte(13, 0x13), /unknown transport protocol/);
  bad(withByte(13, 0x12), /only stream/);
  bad(withByte(13, 0x01), /without an address family/);
  bad(withByte(15, 11), /too short/);
  // An IPv6 family with an IPv4-sized body.
  bad(withByte(13, 0x21), /too short/);
  // A version byte that is already wrong fails before the rest arrives.
  bad(Buffer.concat([V2_SIGNATURE, Buffer.from([0x31])]), /unsupported version/);
  const tlvs = (t: Buffer) => encodeV2({ source: { address: "203.0.113.7", port: 1 }, destination: { address: "10.0.0.1", port: 2 }, tlvs: t });
  bad(tlvs(Buffer.from([0x04, 0x00])), /truncated TLV/);
  bad(tlvs(Buffer.from([0x04, 0x00, 0x05, 0x61])), /TLV longer/);
  assert.equal(header(parseProxyHeader(tlvs(Buffer.from([0x04, 0x00, 0x01, 0x61, 0xea, 0x00, 0x00])))).consumed, 16 + 12 + 7);
});

test("v2: AF_UNSPEC and UNIX keep the socket's address; LOCAL skips its body", () => {
  const unspec = Buffer.concat([V2_SIGNATURE, Buffer.from([0x21, 0x00, 0x00, 0x03, 0x04, 0x00, 0x00])]);
  assert.deepEqual(parseProxyHeader(unspec), { kind: "header", header: { version: 2, command: "unknown" }, consumed: 19 });
  const unix = Buffer.concat([V2_SIGNATURE, Buffer.from([0x21, 0x31, 0x00, 216]), Buffer.alloc(216)]);
  assert.deepEqual(parseProxyHeader(unix), { kind: "header", header: { version: 2, command: "unknown" }, consumed: 232 });
  const local = Buffer.concat([V2_SIGNATURE, Buffer.from([0x20, 0x11, 0x00, 0x0c]), Buffer.alloc(12, 7), Buffer.from("SSH-")]);
  assert.deepEqual(parseProxyHeader(local), { kind: "header", header: { version: 2, command: "local" }, consumed: 28 });
});

test("the encoders round-trip through the parser", () => {
  for (const [src, dst] of [
    ["198.51.100.23", "10.1.2.3"],
    ["2001:db8::7", "2001:db8:0:1::1"],
    ["::ffff:1.2.3.4", "fe80::1"],
  ] as const) {
    const h = { source: { address: src, port: 50000 }, destination: { address: dst, port: 3080 } };
    for (const enc of [encodeV1(h), encodeV2(h)]) {
      const r = header(parseProxyHeader(enc));
      assert.equal(r.consumed, enc.length);
      assert.equal(r.header.command, "proxy");
      if (r.header.command === "proxy") assert.equal(r.header.source.port, 50000);
    }
  }
  const v2 = header(parseProxyHeader(encodeV2({ source: { address: "2001:db8::7", port: 1 }, destination: { address: "::ffff:1.2.3.4", port: 2 } })));
  assert.ok(v2.header.command === "proxy");
  assert.equal(v2.header.source.address, "2001:db8::7");
  assert.equal(v2.header.destination.address, "::ffff:102:304");
});
