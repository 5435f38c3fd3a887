/**
 * MySQL packet framing, pure: a 3-byte little-endian payload length and a
 * sequence id, then the payload. A payload of 2^24-1 bytes or more is split
 * into full fragments followed by a shorter one (possibly empty); the scanner
 * joins them into one logical packet.
 *
 * The scanner never holds more than it is told to keep of a packet, so the
 * relay can pass gigabyte rows and blobs through while reading only their
 * first bytes; partial input is simply kept for the next `push`.
 */
import { tooLarge } from "./errors.ts";

/** The largest payload of one fragment; a fragment this size is continued by the next one. */
export const MAX_FRAGMENT = 0xffffff;

export interface MysqlPacket {
  /** Sequence id of the first fragment. */
  seq: number;
  /** Sequence id of the last fragment (equal to `seq` unless the packet was split). */
  lastSeq: number;
  /** The payload, or its first bytes when `truncated`. */
  payload: Buffer;
  /** Total payload length across fragments. */
  length: number;
  truncated: boolean;
}

export interface ScannerOptions {
  /** Largest logical payload accepted; a larger declared length throws `limit-exceeded`. */
  maxPacketBytes: number;
  /** How many payload bytes to keep, decided from the payload's first byte (default: all). */
  keep?: (firstByte: number) => number;
}

interface Current {
  seq: number;
  lastSeq: number;
  parts: Buffer[];
  kept: number;
  total: number;
  keep: number;
}

export class PacketScanner {
  private readonly header = Buffer.alloc(4);
  private headerLen = 0;
  private fragLeft = 0;
  private fragIsLast = false;
  private cur: Current | undefined;

  constructor(private readonly opts: ScannerOptions) {}

  /** True when no partial packet is pending: the stream is between two packets. */
  get atBoundary(): boolean {
    return this.headerLen === 0 && this.cur === undefined;
  }

  /** Feeds bytes; returns the logical packets they complete. Throws `limit-exceeded` for an oversized one. */
  push(chunk: Buffer): MysqlPacket[] {
    const out: MysqlPacket[] = [];
    let off = 0;
    while (off < chunk.length) {
      const r = this.pushOne(chunk, off);
      off += r.consumed;
      if (r.packet !== undefined) out.push(r.packet);
    }
    return out;
  }

  /**
   * Feeds `chunk` from `offset` up to the end of the first packet it
   * completes: `consumed` bytes were taken, and `packet` is that packet, if
   * one was completed. The caller forwards exactly `consumed` bytes for it.
   */
  pushOne(chunk: Buffer, offset = 0): { consumed: number; packet?: MysqlPacket } {
    let i = offset;
    while (i < chunk.length || (this.headerLen === 4 && this.fragLeft === 0)) {
      if (this.headerLen < 4) {
        const n = Math.min(4 - this.headerLen, chunk.length - i);
        chunk.copy(this.header, this.headerLen, i, i + n);
        this.headerLen += n;
        i += n;
        if (this.headerLen < 4) break;
        this.startFragment();
        if (this.fragLeft > 0) continue;
      } else if (this.fragLeft > 0) {
        const cur = this.current();
        const n = Math.min(this.fragLeft, chunk.length - i);
        if (cur.keep < 0) cur.keep = this.opts.keep ? this.opts.keep(chunk[i] ?? 0) : Number.POSITIVE_INFINITY;
        const take = Math.min(n, cur.keep - cur.kept);
        if (take > 0) {
          cur.parts.push(chunk.subarray(i, i + take));
          cur.kept += take;
        }
        this.fragLeft -= n;
        i += n;
        if (this.fragLeft > 0) break;
      }
      // The fragment is complete.
      this.headerLen = 0;
      if (this.fragIsLast) {
        const c = this.current();
        this.cur = undefined;
        const payload = c.parts.length === 1 && c.parts[0] !== undefined ? c.parts[0] : Buffer.concat(c.parts);
        return {
          consumed: i - offset,
          packet: {
            seq: c.seq,
            lastSeq: c.lastSeq,
            payload,
            length: c.total,
            truncated: c.kept < c.total,
          },
        };
      }
    }
    return { consumed: i - offset };
  }

  private current(): Current {
    if (this.cur === undefined) throw new Error("packet scanner: no current packet");
    return this.cur;
  }

  private startFragment(): void {
    const len = this.header.readUIntLE(0, 3);
    const seq = this.header[3] ?? 0;
    if (this.cur === undefined) this.cur = { seq, lastSeq: seq, parts: [], kept: 0, total: 0, keep: -1 };
    const cur = this.cur;
    cur.lastSeq = seq;
    cur.total += len;
    if (cur.total > this.opts.maxPacketBytes) {
      throw tooLarge(`packet of ${cur.total} bytes exceeds the limit of ${this.opts.maxPacketBytes} bytes`);
    }
    this.fragLeft = len;
    this.fragIsLast = len < MAX_FRAGMENT;
  }
}

/** Frames a payload as one or more packets starting at `seq`; returns the bytes and the next sequence id. */
export function framePacket(seq: number, payload: Buffer): { bytes: Buffer; nextSeq: number } {
  const parts: Buffer[] = [];
  let off = 0;
  let s = seq & 0xff;
  for (;;) {
    const n = Math.min(MAX_FRAGMENT, payload.length - off);
    const h = Buffer.alloc(4);
    h.writeUIntLE(n, 0, 3);
    h[3] = s;
    parts.push(h, payload.subarray(off, off + n));
    off += n;
    s = (s + 1) & 0xff;
    if (n < MAX_FRAGMENT) break;
  }
  return { bytes: Buffer.concat(parts), nextSeq: s };
}

/** `framePacket` when the next sequence id is not needed. */
export function packet(seq: number, payload: Buffer): Buffer {
  return framePacket(seq, payload).bytes;
}

/**
 * What the relay reads from the client: packets under `smallBytes` arrive
 * whole (the relay may hold them, e.g. to check a USE before passing it on);
 * larger ones are announced by their first payload byte and then streamed
 * through as they arrive, keeping only their first `keepBytes` for audit.
 */
export type ClientUnit =
  | { kind: "packet"; raw: Buffer; packet: MysqlPacket }
  | { kind: "start"; seq: number; first: number }
  | { kind: "more"; raw: Buffer; packet?: MysqlPacket };

export class ClientFramer {
  private pending: Buffer = Buffer.alloc(0);
  private big: PacketScanner | undefined;

  constructor(
    private readonly opts: {
      smallBytes: number;
      keepBytes: number;
      maxPacketBytes: number;
    },
  ) {
    if (opts.smallBytes >= MAX_FRAGMENT) throw new Error("smallBytes must be below one fragment");
  }

  /** Bytes held while waiting for the rest of a small packet or a header. */
  get buffered(): number {
    return this.pending.length;
  }

  push(chunk: Buffer): ClientUnit[] {
    const units: ClientUnit[] = [];
    let off = 0;
    while (this.big !== undefined && off < chunk.length) {
      const r = this.big.pushOne(chunk, off);
      units.push(
        r.packet
          ? {
              kind: "more",
              raw: chunk.subarray(off, off + r.consumed),
              packet: r.packet,
            }
          : { kind: "more", raw: chunk.subarray(off, off + r.consumed) },
      );
      off += r.consumed;
      if (r.packet !== undefined) this.big = undefined;
    }
    if (off >= chunk.length) return units;
    const buf = this.pending.length > 0 ? Buffer.concat([this.pending, chunk.subarray(off)]) : chunk.subarray(off);
    let pos = 0;
    while (buf.length - pos >= 4) {
      const len = buf.readUIntLE(pos, 3);
      const seq = buf[pos + 3] ?? 0;
      if (len < this.opts.smallBytes) {
        if (buf.length - pos < 4 + len) break;
        const raw = buf.subarray(pos, pos + 4 + len);
        units.push({
          kind: "packet",
          raw,
          packet: {
            seq,
            lastSeq: seq,
            payload: raw.subarray(4),
            length: len,
            truncated: false,
          },
        });
        pos += 4 + len;
        continue;
      }
      if (buf.length - pos < 5) break;
      units.push({ kind: "start", seq, first: buf[pos + 4] ?? 0 });
      const keep = this.opts.keepBytes;
      this.big = new PacketScanner({
        maxPacketBytes: this.opts.maxPacketBytes,
        keep: () => keep,
      });
      const r = this.big.pushOne(buf, pos);
      units.push(
        r.packet
          ? {
              kind: "more",
              raw: buf.subarray(pos, pos + r.consumed),
              packet: r.packet,
            }
          : { kind: "more", raw: buf.subarray(pos, pos + r.consumed) },
      );
      pos += r.consumed;
      if (r.packet === undefined) break;
      this.big = undefined;
    }
    this.pending = pos >= buf.length ? Buffer.alloc(0) : Buffer.from(buf.subarray(pos));
    return units;
  }
}
