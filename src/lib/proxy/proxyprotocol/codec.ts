import { isIPv4, isIPv6 } from "node:net";
import { badParameter } from "../../../api/errors.ts";

/**
 * The PROXY protocol, versions 1 (a text line) and 2 (binary), as a load
 * balancer puts it in front of a TCP stream to say who the client really is.
 * Pure functions over Buffers: the multiplexer feeds them what it has read.
 */

export interface Endpoint {
  /** An IPv4 or IPv6 address, without brackets. */
  address: string;
  port: number;
}

export type ProxyHeader =
  | {
      version: 1 | 2;
      /** The load balancer relays a client: use these addresses. */
      command: "proxy";
      family: "tcp4" | "tcp6";
      source: Endpoint;
      destination: Endpoint;
    }
  | {
      version: 1 | 2;
      /**
       * "local": a v2 LOCAL command (the balancer's own health check);
       * "unknown": v1 UNKNOWN, or a v2 family without usable addresses.
       * Either way the connection's own addresses stand.
       */
      command: "local" | "unknown";
    };

export type ParseResult = { kind: "need-more" } | { kind: "header"; header: ProxyHeader; consumed: number };

/** The longest v1 line, "\r\n" included (spec §2.1). */
export const V1_MAX_LENGTH = 107;
export const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V2_FIXED = 16;
/** The longest v2 header: the fixed part and a 16-bit length. */
export const V2_MAX_LENGTH = V2_FIXED + 0xffff;
const V1_PREFIX = Buffer.from("PROXY ", "latin1");

const NEED_MORE: ParseResult = { kind: "need-more" };

/**
 * Parses a PROXY header at the start of `buf`. Returns the header and how many
 * bytes it took, or "need-more" while a valid header could still follow.
 * Throws a bad-parameter JumpgateError for anything else.
 */
export function parseProxyHeader(buf: Buffer): ParseResult {
  if (startsWithPrefix(buf, V2_SIGNATURE)) return buf.length < V2_SIGNATURE.length ? NEED_MORE : parseV2(buf);
  if (startsWithPrefix(buf, V1_PREFIX)) return buf.length < V1_PREFIX.length ? NEED_MORE : parseV1(buf);
  throw badParameter("not a PROXY protocol header");
}

/** True when `buf` and `sig` agree on their common length. */
function startsWithPrefix(buf: Buffer, sig: Buffer): boolean {
  const n = Math.min(buf.length, sig.length);
  return buf.subarray(0, n).equals(sig.subarray(0, n));
}

// ---- version 1 ----

function parseV1(buf: Buffer): ParseResult {
  const window = buf.subarray(0, V1_MAX_LENGTH);
  const cr = window.indexOf(0x0d);
  const lf = window.indexOf(0x0a);
  if (lf >= 0 && (cr < 0 || lf < cr)) throw badParameter("PROXY v1 header: line feed without carriage return");
  if (cr < 0 || cr + 1 >= window.length) {
    if (buf.length >= V1_MAX_LENGTH) throw badParameter(`PROXY v1 header: longer than ${V1_MAX_LENGTH} bytes`);
    checkV1Chars(window.subarray(0, cr < 0 ? window.length : cr));
    return NEED_MORE;
  }
  if (window[cr + 1] !== 0x0a) throw badParameter("PROXY v1 header: carriage return without line feed");
  const line = window.subarray(0, cr);
  checkV1Chars(line);
  const consumed = cr + 2;
  const fields = line.toString("latin1").split(" ");
  const proto = fields[1];
  if (proto === "UNKNOWN") return { kind: "header", header: { version: 1, command: "unknown" }, consumed };
  if (proto !== "TCP4" && proto !== "TCP6") throw badParameter("PROXY v1 header: protocol must be TCP4, TCP6 or UNKNOWN");
  if (fields.length !== 6) throw badParameter("PROXY v1 header: expected 4 fields after the protocol");
  const [, , srcAddr = "", dstAddr = "", srcPort = "", dstPort = ""] = fields;
  const valid = proto === "TCP4" ? isIPv4 : isIPv6;
  if (!valid(srcAddr) || !valid(dstAddr)) throw badParameter(`PROXY v1 header: invalid ${proto === "TCP4" ? "IPv4" : "IPv6"} address`);
  return {
    kind: "header",
    header: {
      version: 1,
      command: "proxy",
      family: proto === "TCP4" ? "tcp4" : "tcp6",
      source: { address: srcAddr, port: v1Port(srcPort) },
      destination: { address: dstAddr, port: v1Port(dstPort) },
    },
    consumed,
  };
}

/** The line is printable US-ASCII (spaces included). */
function checkV1Chars(line: Buffer): void {
  for (const b of line) {
    if (b < 0x20 || b > 0x7e) throw badParameter("PROXY v1 header: unexpected byte in the line");
  }
}

function v1Port(s: string): number {
  if (!/^(0|[1-9][0-9]{0,4})$/.test(s)) throw badParameter("PROXY v1 header: invalid port");
  const port = Number(s);
  if (port > 65535) throw badParameter("PROXY v1 header: port out of range");
  return port;
}

// ---- version 2 ----

const FAMILY_UNSPEC = 0x0;
const FAMILY_INET = 0x1;
const FAMILY_INET6 = 0x2;
const FAMILY_UNIX = 0x3;
const PROTO_UNSPEC = 0x0;
const PROTO_STREAM = 0x1;
/** Bytes of addresses and ports each family carries. */
const ADDRESS_LENGTH: Record<number, number> = { [FAMILY_UNSPEC]: 0, [FAMILY_INET]: 12, [FAMILY_INET6]: 36, [FAMILY_UNIX]: 216 };

function parseV2(buf: Buffer): ParseResult {
  if (buf.length < V2_FIXED) {
    // Check what has arrived, so a bad version fails before the peer sends more.
    if (buf.length > 12) verCmd(buf[12] ?? 0);
    return NEED_MORE;
  }
  const command = verCmd(buf[12] ?? 0);
  const famProto = buf[13] ?? 0;
  const length = buf.readUInt16BE(14);
  const family = famProto >> 4;
  const proto = famProto & 0x0f;
  const addrLen = ADDRESS_LENGTH[family];
  if (addrLen === undefined) throw badParameter("PROXY v2 header: unknown address family");
  if (proto > 0x2) throw badParameter("PROXY v2 header: unknown transport protocol");
  const consumed = V2_FIXED + length;
  if (command === "local") {
    // LOCAL: the balancer speaks for itself; whatever follows is skipped.
    return buf.length < consumed ? NEED_MORE : { kind: "header", header: { version: 2, command: "local" }, consumed };
  }
  if (family !== FAMILY_UNSPEC && proto !== PROTO_STREAM) throw badParameter("PROXY v2 header: only stream (TCP) connections can be relayed here");
  if (family === FAMILY_UNSPEC && proto !== PROTO_UNSPEC) throw badParameter("PROXY v2 header: transport protocol without an address family");
  if (length < addrLen) throw badParameter("PROXY v2 header: length too short for its address family");
  if (buf.length < consumed) return NEED_MORE;
  checkTlvs(buf.subarray(V2_FIXED + addrLen, consumed));
  if (family === FAMILY_INET) {
    const a = buf.subarray(V2_FIXED, V2_FIXED + 12);
    return proxied(consumed, "tcp4", ipv4(a.subarray(0, 4)), ipv4(a.subarray(4, 8)), a.readUInt16BE(8), a.readUInt16BE(10));
  }
  if (family === FAMILY_INET6) {
    const a = buf.subarray(V2_FIXED, V2_FIXED + 36);
    return proxied(consumed, "tcp6", ipv6(a.subarray(0, 16)), ipv6(a.subarray(16, 32)), a.readUInt16BE(32), a.readUInt16BE(34));
  }
  // AF_UNSPEC, or a UNIX socket behind the balancer: no address to take.
  return { kind: "header", header: { version: 2, command: "unknown" }, consumed };
}

function verCmd(b: number): "local" | "proxy" {
  if (b >> 4 !== 0x2) throw badParameter("PROXY v2 header: unsupported version");
  const cmd = b & 0x0f;
  if (cmd === 0x0) return "local";
  if (cmd === 0x1) return "proxy";
  throw badParameter("PROXY v2 header: unknown command");
}

/** TLVs are skipped, but each must fit exactly in what the length announced. */
function checkTlvs(tlvs: Buffer): void {
  let i = 0;
  while (i < tlvs.length) {
    if (i + 3 > tlvs.length) throw badParameter("PROXY v2 header: truncated TLV");
    const len = tlvs.readUInt16BE(i + 1);
    i += 3 + len;
    if (i > tlvs.length) throw badParameter("PROXY v2 header: TLV longer than the header");
  }
}

function proxied(consumed: number, family: "tcp4" | "tcp6", src: string, dst: string, srcPort: number, dstPort: number): ParseResult {
  return {
    kind: "header",
    header: { version: 2, command: "proxy", family, source: { address: src, port: srcPort }, destination: { address: dst, port: dstPort } },
    consumed,
  };
}

function ipv4(b: Buffer): string {
  return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
}

/** RFC 5952 text: lower case, the longest run of two or more zero groups as "::". */
function ipv6(b: Buffer): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i));
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  const hex = (gs: number[]) => gs.map((g) => g.toString(16)).join(":");
  if (best < 0) return hex(groups);
  return `${hex(groups.slice(0, best))}::${hex(groups.slice(best + bestLen))}`;
}

// ---- encoding (for tests and tools) ----

/** A v1 line for a TCP connection, or "PROXY UNKNOWN\r\n" without addresses. */
export function encodeV1(h?: { source: Endpoint; destination: Endpoint }): Buffer {
  if (!h) return Buffer.from("PROXY UNKNOWN\r\n", "latin1");
  const fam = isIPv4(h.source.address) ? "TCP4" : "TCP6";
  return Buffer.from(`PROXY ${fam} ${h.source.address} ${h.destination.address} ${h.source.port} ${h.destination.port}\r\n`, "latin1");
}

/** A v2 PROXY header for TCP over IPv4 or IPv6 (with optional raw TLV bytes), or LOCAL without addresses. */
export function encodeV2(h?: { source: Endpoint; destination: Endpoint; tlvs?: Buffer }): Buffer {
  if (!h) return Buffer.concat([V2_SIGNATURE, Buffer.from([0x20, 0x00, 0x00, 0x00])]);
  const v4 = isIPv4(h.source.address);
  const addrs = Buffer.concat([
    v4 ? ipv4Bytes(h.source.address) : ipv6Bytes(h.source.address),
    v4 ? ipv4Bytes(h.destination.address) : ipv6Bytes(h.destination.address),
    u16(h.source.port),
    u16(h.destination.port),
  ]);
  const body = Buffer.concat([addrs, h.tlvs ?? Buffer.alloc(0)]);
  return Buffer.concat([V2_SIGNATURE, Buffer.from([0x21, v4 ? 0x11 : 0x21]), u16(body.length), body]);
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

function ipv4Bytes(s: string): Buffer {
  return Buffer.from(s.split(".").map(Number));
}

function ipv6Bytes(s: string): Buffer {
  if (!isIPv6(s)) throw badParameter(`invalid IPv6 address ${s}`);
  let text = s;
  const tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(text)?.[1];
  if (tail !== undefined) {
    const [a = 0, b = 0, c = 0, d = 0] = tail.split(".").map(Number);
    text = `${text.slice(0, -tail.length)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = "", rest] = text.split("::");
  const h = head === "" ? [] : head.split(":");
  const r = rest === undefined || rest === "" ? [] : rest.split(":");
  const groups = rest === undefined ? h : [...h, ...Array<string>(8 - h.length - r.length).fill("0"), ...r];
  return Buffer.concat(groups.map((g) => u16(Number.parseInt(g, 16))));
}
