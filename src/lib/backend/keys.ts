/**
 * Key validation, key order and key ranges, shared by every backend so that all
 * of them agree on what a valid key is and in which order keys come back.
 *
 * Key order is Unicode code point order, which is also the byte order of the
 * keys' UTF-8 encoding: what SQLite's BINARY collation and PostgreSQL's "C"
 * collation give. (Plain JS `<` compares UTF-16 code units and disagrees for
 * characters above U+FFFF, so the memory backend uses `compareKeys`.)
 */
import { badParameter } from "../../api/errors.ts";
import type { ItemInput, KeyRange } from "./types.ts";

export const MAX_KEY_LENGTH = 4096;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export function validateKey(key: unknown, what = "key"): string {
  if (typeof key !== "string" || key.length === 0) throw badParameter(`${what} must be a non-empty string`);
  if (key.length > MAX_KEY_LENGTH) throw badParameter(`${what} is longer than ${MAX_KEY_LENGTH} characters`);
  if (key.includes("\u0000")) throw badParameter(`${what} must not contain NUL characters`);
  if (LONE_SURROGATE.test(key)) throw badParameter(`${what} is not valid Unicode`);
  return key;
}

/** Expiry as epoch milliseconds, or null for "never". */
export function expiryMs(expires: Date | undefined, what = "expires"): number | null {
  if (expires === undefined) return null;
  if (!(expires instanceof Date) || Number.isNaN(expires.getTime())) throw badParameter(`${what} must be a valid Date`);
  return expires.getTime();
}

export function validateInput(item: ItemInput): void {
  validateKey(item.key);
  if (!Buffer.isBuffer(item.value)) throw badParameter(`value of ${item.key} must be a Buffer`);
  expiryMs(item.expires);
}

export function validateLimit(limit: number | undefined): number | undefined {
  if (limit === undefined) return undefined;
  if (!Number.isSafeInteger(limit) || limit <= 0) throw badParameter("limit must be a positive integer");
  return limit;
}

export function validateRevision(revision: unknown, what = "revision"): number {
  if (typeof revision !== "number" || !Number.isSafeInteger(revision) || revision < 0) {
    throw badParameter(`${what} must be a non-negative integer`);
  }
  return revision;
}

/** Compares two keys in code point (= UTF-8 byte) order. */
export function compareKeys(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const ca = a.charCodeAt(i);
    const cb = b.charCodeAt(i);
    if (ca !== cb) return codeUnitRank(ca) - codeUnitRank(cb);
  }
  return a.length - b.length;
}

/** Moves surrogates above U+E000..U+FFFF so code units sort like code points. */
function codeUnitRank(c: number): number {
  if (c >= 0xe000) return c - 0x800;
  if (c >= 0xd800) return c + 0x2000;
  return c;
}

/** The half-open interval [start, end) of a range; end undefined means "to the last key". */
export interface Bounds {
  start: string;
  end: string | undefined;
}

export function rangeBounds(r: KeyRange): Bounds {
  if ("prefix" in r) {
    validateBound(r.prefix, "prefix");
    return { start: r.prefix, end: prefixEnd(r.prefix) };
  }
  validateBound(r.start, "range start");
  validateBound(r.end, "range end");
  return { start: r.start, end: r.end };
}

/** Like validateKey, but the empty string is allowed (it sorts before every key). */
function validateBound(s: unknown, what: string): void {
  if (typeof s !== "string") throw badParameter(`${what} must be a string`);
  if (s.length > 0) validateKey(s, what);
}

/**
 * The smallest key greater than every key that starts with `prefix`: the prefix
 * with its last code point incremented (dropping trailing U+10FFFF), or undefined
 * when no such key exists.
 */
export function prefixEnd(prefix: string): string | undefined {
  const points = Array.from(prefix);
  while (points.length > 0) {
    const last = points.pop();
    const cp = last === undefined ? undefined : last.codePointAt(0);
    if (cp === undefined || cp >= 0x10ffff) continue;
    // Skip the surrogate block: it cannot appear in a valid key.
    const next = cp + 1 === 0xd800 ? 0xe000 : cp + 1;
    return points.join("") + String.fromCodePoint(next);
  }
  return undefined;
}

export function inBounds(key: string, b: Bounds): boolean {
  return compareKeys(key, b.start) >= 0 && (b.end === undefined || compareKeys(key, b.end) < 0);
}

/** True when the key starts with one of the prefixes; an empty list matches every key. */
export function matchesPrefixes(key: string, prefixes: readonly string[]): boolean {
  if (prefixes.length === 0) return true;
  for (const p of prefixes) if (key.startsWith(p)) return true;
  return false;
}
