/**
 * The protocol's basic types over a Buffer: fixed little-endian integers,
 * length-encoded integers and strings, NUL-terminated strings. Every read is
 * bounds-checked and throws a typed `malformed` error, never a RangeError.
 */
import { malformed } from "./errors.ts";

export class Reader {
  pos = 0;
  constructor(
    readonly buf: Buffer,
    private readonly what: string,
  ) {}

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  private need(n: number): void {
    if (n < 0 || this.pos + n > this.buf.length) throw malformed(`${this.what}: packet too short`);
  }

  u8(): number {
    this.need(1);
    return this.buf.readUInt8(this.pos++);
  }
  u16(): number {
    this.need(2);
    const v = this.buf.readUInt16LE(this.pos);
    this.pos += 2;
    return v;
  }
  u24(): number {
    this.need(3);
    const v = this.buf.readUIntLE(this.pos, 3);
    this.pos += 3;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }
  u64(): bigint {
    this.need(8);
    const v = this.buf.readBigUInt64LE(this.pos);
    this.pos += 8;
    return v;
  }
  bytes(n: number): Buffer {
    this.need(n);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }
  rest(): Buffer {
    return this.bytes(this.remaining);
  }
  skip(n: number): void {
    this.need(n);
    this.pos += n;
  }

  /** A length-encoded integer; lengths above 2^53 are refused (no buffer is that large). */
  lenenc(): number {
    const first = this.u8();
    if (first < 0xfb) return first;
    if (first === 0xfc) return this.u16();
    if (first === 0xfd) return this.u24();
    if (first === 0xfe) {
      const v = this.u64();
      if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw malformed(`${this.what}: length out of range`);
      return Number(v);
    }
    throw malformed(`${this.what}: bad length-encoded integer`);
  }
  lenencBytes(): Buffer {
    return this.bytes(this.lenenc());
  }

  /** Bytes up to (not including) the next NUL, which is consumed. */
  cstringBytes(): Buffer {
    const end = this.buf.indexOf(0, this.pos);
    if (end < 0) throw malformed(`${this.what}: unterminated string`);
    const v = this.buf.subarray(this.pos, end);
    this.pos = end + 1;
    return v;
  }
  cstring(): string {
    return this.cstringBytes().toString("utf8");
  }
  /** A NUL-terminated string, or the rest of the packet when there is no NUL (tolerated at the end of a packet). */
  cstringOrRest(): string {
    const end = this.buf.indexOf(0, this.pos);
    if (end < 0) return this.rest().toString("utf8");
    return this.cstring();
  }
}

export function lenencInt(n: number): Buffer {
  if (n < 0xfb) return Buffer.from([n]);
  if (n <= 0xffff) {
    const b = Buffer.alloc(3);
    b[0] = 0xfc;
    b.writeUInt16LE(n, 1);
    return b;
  }
  if (n <= 0xffffff) {
    const b = Buffer.alloc(4);
    b[0] = 0xfd;
    b.writeUIntLE(n, 1, 3);
    return b;
  }
  const b = Buffer.alloc(9);
  b[0] = 0xfe;
  b.writeBigUInt64LE(BigInt(n), 1);
  return b;
}

export function lenencBytes(v: Buffer): Buffer {
  return Buffer.concat([lenencInt(v.length), v]);
}

export function cstr(s: string): Buffer {
  return Buffer.concat([Buffer.from(s, "utf8"), Buffer.alloc(1)]);
}

export function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(n);
  return b;
}

export function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
}
