/**
 * Just enough DER to write a certificate and to read the few fields issuing one
 * needs (a CA's subject and key identifier, a key's subjectPublicKey). Used on
 * the issuing hot path instead of `@peculiar/x509`, whose ASN.1 layer costs
 * milliseconds per certificate; `issue.test.ts` checks that both produce the
 * same bytes.
 */
import { badParameter } from "../../../api/errors.ts";

// ---- writing ----

function lengthBytes(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const out: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) out.unshift(v & 0xff);
  return Buffer.from([0x80 | out.length, ...out]);
}

/** A TLV with the given tag byte around the concatenated contents. */
export function tlv(tag: number, ...contents: Buffer[]): Buffer {
  const body = contents.length === 1 ? (contents[0] as Buffer) : Buffer.concat(contents);
  return Buffer.concat([Buffer.from([tag]), lengthBytes(body.length), body]);
}

export const seq = (...items: Buffer[]): Buffer => tlv(0x30, ...items);
export const set = (...items: Buffer[]): Buffer => tlv(0x31, ...items);
export const octetString = (b: Buffer | Uint8Array): Buffer => tlv(0x04, Buffer.from(b));
export const utf8String = (s: string): Buffer => tlv(0x0c, Buffer.from(s, "utf8"));
export const boolean = (v: boolean): Buffer => Buffer.from([0x01, 0x01, v ? 0xff : 0x00]);
/** Context-specific, constructed, explicit tag [n]. */
export const explicit = (n: number, inner: Buffer): Buffer => tlv(0xa0 | n, inner);
/** BIT STRING with no unused bits. */
export const bitString = (b: Buffer | Uint8Array): Buffer => tlv(0x03, Buffer.from([0]), Buffer.from(b));

/** A non-negative INTEGER from big-endian magnitude bytes (leading zeros trimmed, a 0x00 added when the top bit is set). */
export function unsignedInteger(magnitude: Buffer | Uint8Array): Buffer {
  let b = Buffer.from(magnitude);
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  b = b.subarray(i);
  if (b.length === 0) b = Buffer.from([0]);
  if ((b[0] ?? 0) & 0x80) b = Buffer.concat([Buffer.from([0]), b]);
  return tlv(0x02, b);
}

const oidCache = new Map<string, Buffer>();

/** An OBJECT IDENTIFIER from its dotted form. */
export function oid(dotted: string): Buffer {
  const hit = oidCache.get(dotted);
  if (hit) return hit;
  const arcs = dotted.split(".").map((a) => {
    if (!/^\d+$/.test(a)) throw badParameter(`bad object identifier ${JSON.stringify(dotted)}`);
    return BigInt(a);
  });
  const [a0, a1, ...rest] = arcs;
  if (a0 === undefined || a1 === undefined || a0 > 2n || (a0 < 2n && a1 > 39n)) throw badParameter(`bad object identifier ${JSON.stringify(dotted)}`);
  const bytes: number[] = [];
  for (const arc of [a0 * 40n + a1, ...rest]) {
    const chunk: number[] = [Number(arc & 0x7fn)];
    for (let v = arc >> 7n; v > 0n; v >>= 7n) chunk.unshift(Number(v & 0x7fn) | 0x80);
    bytes.push(...chunk);
  }
  const out = tlv(0x06, Buffer.from(bytes));
  if (oidCache.size < 1024) oidCache.set(dotted, out);
  return out;
}

const pad = (n: number, w = 2) => String(n).padStart(w, "0");

/** RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050, whole seconds, "Z". */
export function time(d: Date): Buffer {
  const y = d.getUTCFullYear();
  const rest = `${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}Z`;
  if (y >= 1950 && y <= 2049) return tlv(0x17, Buffer.from(`${pad(y % 100)}${rest}`, "latin1"));
  if (y < 0 || y > 9999) throw badParameter("certificate time out of range");
  return tlv(0x18, Buffer.from(`${pad(y, 4)}${rest}`, "latin1"));
}

// ---- reading ----

export interface Tlv {
  tag: number;
  /** Offset of the tag byte in the source buffer. */
  start: number;
  /** Offset of the contents. */
  body: number;
  /** Offset just past the contents. */
  end: number;
}

/** Reads one TLV at `at` (definite lengths only, as DER requires); throws badParameter. */
export function readTlv(b: Buffer, at: number, limit = b.length): Tlv {
  const fail = () => badParameter("malformed DER");
  if (at + 2 > limit) throw fail();
  const tag = b[at] as number;
  if ((tag & 0x1f) === 0x1f) throw fail(); // multi-byte tags: not used by anything read here
  let len = b[at + 1] as number;
  let body = at + 2;
  if (len & 0x80) {
    const k = len & 0x7f;
    if (k < 1 || k > 4 || body + k > limit) throw fail();
    len = 0;
    for (let i = 0; i < k; i++) len = len * 256 + (b[body + i] as number);
    body += k;
  }
  const end = body + len;
  if (end > limit) throw fail();
  return { tag, start: at, body, end };
}

/** The TLVs directly inside a constructed one. */
export function children(b: Buffer, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let at = parent.body; at < parent.end; ) {
    const t = readTlv(b, at, parent.end);
    out.push(t);
    at = t.end;
  }
  return out;
}

export const contents = (b: Buffer, t: Tlv): Buffer => b.subarray(t.body, t.end);
export const whole = (b: Buffer, t: Tlv): Buffer => b.subarray(t.start, t.end);
