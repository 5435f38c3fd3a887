/**
 * SSH wire encoding (RFC 4251 §5): uint32, uint64, string, mpint, as pure
 * functions over Buffers. Every read is bounds-checked and fails with
 * `badParameter`, so parsers built on it cannot crash on hostile input.
 */
import { badParameter } from "../../api/errors.ts";

/** Upper bound for any single length-prefixed field; no SSH key or certificate field comes near it. */
const MAX_FIELD = 1 << 20;

const utf8 = new TextDecoder("utf-8", { fatal: true });

export class WireReader {
  private offset = 0;
  private readonly what: string;

  constructor(
    private readonly buf: Buffer,
    what = "SSH data",
  ) {
    this.what = what;
  }

  get remaining(): number {
    return this.buf.length - this.offset;
  }

  /** Bytes consumed so far (the prefix of the buffer read up to now). */
  get position(): number {
    return this.offset;
  }

  private take(n: number): Buffer {
    if (n < 0 || n > this.remaining) throw badParameter(`malformed ${this.what}: truncated`);
    const out = this.buf.subarray(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }

  uint32(): number {
    return this.take(4).readUInt32BE(0);
  }

  uint64(): bigint {
    return this.take(8).readBigUInt64BE(0);
  }

  /** An SSH `string` as raw bytes. */
  bytes(): Buffer {
    const n = this.uint32();
    if (n > MAX_FIELD) throw badParameter(`malformed ${this.what}: field too long`);
    return this.take(n);
  }

  /** An SSH `string` that must be valid UTF-8 text. */
  text(): string {
    const b = this.bytes();
    try {
      return utf8.decode(b);
    } catch {
      throw badParameter(`malformed ${this.what}: invalid UTF-8`);
    }
  }

  /** A non-negative `mpint`, returned as its big-endian magnitude without leading zeros. */
  unsignedMpint(): Buffer {
    const b = this.bytes();
    if (b.length > 0 && ((b[0] ?? 0) & 0x80) !== 0) throw badParameter(`malformed ${this.what}: negative integer`);
    let i = 0;
    while (i < b.length && b[i] === 0) i++;
    return b.subarray(i);
  }

  /** Fails unless every byte has been consumed. */
  end(): void {
    if (this.remaining !== 0) throw badParameter(`malformed ${this.what}: trailing bytes`);
  }
}

export function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0, 0);
  return b;
}

export function u64(n: bigint): Buffer {
  if (n < 0n || n > 0xffffffffffffffffn) throw badParameter("uint64 out of range");
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(n, 0);
  return b;
}

/** An SSH `string` from bytes or UTF-8 text. */
export function str(v: Buffer | Uint8Array | string): Buffer {
  const b = typeof v === "string" ? Buffer.from(v, "utf8") : Buffer.from(v);
  return Buffer.concat([u32(b.length), b]);
}

/** An `mpint` from a non-negative big-endian magnitude. */
export function mpint(magnitude: Buffer): Buffer {
  let i = 0;
  while (i < magnitude.length && magnitude[i] === 0) i++;
  let m = magnitude.subarray(i);
  if (m.length > 0 && ((m[0] ?? 0) & 0x80) !== 0) m = Buffer.concat([Buffer.from([0]), m]);
  return str(m);
}

/** Left-pads a magnitude to `size` bytes; fails if it does not fit. */
export function padTo(magnitude: Buffer, size: number): Buffer {
  if (magnitude.length > size) throw badParameter("integer too large");
  return Buffer.concat([Buffer.alloc(size - magnitude.length), magnitude]);
}
