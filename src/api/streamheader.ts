/**
 * The framing of the header the proxy writes first on each reverse-tunnel
 * stream it opens to an agent service (databases, apps, Kubernetes): four
 * magic bytes, a big-endian uint32 length, then that many bytes of UTF-8 JSON
 * with `"v":1`. Each access kind names its magic and its fields
 * (api/dbwire.ts, api/appwire.ts, api/kubewire.ts).
 */
import { badParameter } from "./errors.ts";

export interface HeaderKind<T> {
  /** Four ASCII bytes. */
  magic: Buffer;
  /** The largest JSON body either side accepts. */
  maxBytes: number;
  /** Names the header in errors ("app stream header"). */
  label: string;
  /** The string fields the body must carry, in order. */
  fields: readonly (keyof T & string)[];
}

export type HeaderParse<T> = { kind: "need-more" } | { kind: "ok"; header: T; consumed: number };

export function encodeStreamHeader<T extends Record<string, string>>(k: HeaderKind<T>, h: T): Buffer {
  const body = Buffer.from(JSON.stringify({ v: 1, ...Object.fromEntries(k.fields.map((f) => [f, h[f]])) }), "utf8");
  if (body.length > k.maxBytes) throw badParameter(`${k.label} too large`);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([k.magic, len, body]);
}

/** Pure: reads a header from the start of `buf`. Throws `bad-parameter` on anything malformed. */
export function decodeStreamHeader<T extends Record<string, string>>(k: HeaderKind<T>, buf: Buffer): HeaderParse<T> {
  const n = Math.min(buf.length, k.magic.length);
  if (!buf.subarray(0, n).equals(k.magic.subarray(0, n))) throw badParameter(`not ${/^[aeiou]/.test(k.label) ? "an" : "a"} ${k.label}`);
  if (buf.length < 8) return { kind: "need-more" };
  const len = buf.readUInt32BE(4);
  if (len > k.maxBytes) throw badParameter(`${k.label} too large`);
  if (buf.length < 8 + len) return { kind: "need-more" };
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(buf.subarray(8, 8 + len)));
  } catch {
    throw badParameter(`malformed ${k.label}`);
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw badParameter(`malformed ${k.label}`);
  const o = v as Record<string, unknown>;
  if (o.v !== 1) throw badParameter(`unsupported ${k.label} version`);
  const header: Record<string, string> = {};
  for (const f of k.fields) {
    const value = o[f];
    if (typeof value !== "string") throw badParameter(`malformed ${k.label}`);
    header[f] = value;
  }
  return { kind: "ok", header: header as T, consumed: 8 + len };
}
