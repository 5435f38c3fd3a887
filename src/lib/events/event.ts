import { randomUUID } from "node:crypto";
import type { Clock } from "../../api/clock.ts";
import { badParameter } from "../../api/errors.ts";
import { eventCode, UNKNOWN_EVENT_CODE } from "./codes.ts";
import { redact } from "./redact.ts";
import type { AuditEvent, AuditEventInput, SearchOrder, SearchQuery } from "./types.ts";

/** Serialized events larger than this have their long strings cut (a query, a request body). */
export const MAX_EVENT_BYTES = 64 * 1024;
const TRIMMED_STRING_CHARS = 4096;
export const DEFAULT_SEARCH_LIMIT = 500;
export const MAX_SEARCH_LIMIT = 10_000;

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const RESERVED = ["event", "code", "time", "uid", "user", "cluster", "success", "error"] as const;

function toDate(t: Date | string | undefined, clock: Clock): Date {
  if (t === undefined) return clock.now();
  const d = t instanceof Date ? new Date(t.getTime()) : new Date(t);
  if (Number.isNaN(d.getTime())) throw badParameter("audit event: invalid time");
  return d;
}

function optionalString(name: string, v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw badParameter(`audit event: ${name} must be a string`);
  return v;
}

const warnedUnknown = new Set<string>();

/** Unknown names are stored (an audit gap is worse) under a code that stands out, with one warning per name. */
function unknownCode(name: string): string {
  if (!warnedUnknown.has(name) && warnedUnknown.size < 100) {
    warnedUnknown.add(name);
    process.emitWarning(`audit event "${name}" has no code in events/codes.ts`, "JumpgateAuditWarning");
  }
  return UNKNOWN_EVENT_CODE;
}

function trimStrings(v: unknown): unknown {
  if (typeof v === "string") return v.length > TRIMMED_STRING_CHARS ? `${v.slice(0, TRIMMED_STRING_CHARS)}…` : v;
  if (Array.isArray(v)) return v.map(trimStrings);
  if (typeof v === "object" && v !== null && !(v instanceof Date)) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, trimStrings(x)]));
  }
  return v;
}

/**
 * Turns caller input into a complete, redacted, size-capped event: fills uid,
 * time and code (from the table for known names). Idempotent on its output.
 */
export function prepareEvent(input: AuditEventInput | AuditEvent, clock: Clock, defaults: { cluster?: string | undefined } = {}): AuditEvent {
  const name: unknown = input.event;
  if (typeof name !== "string" || name === "") throw badParameter("audit event: missing event name");
  const success = input.success;
  if (success !== undefined && typeof success !== "boolean") throw badParameter("audit event: success must be a boolean");
  const code = eventCode(name, success, input.action) ?? optionalString("code", input.code) ?? unknownCode(name);
  const uid = optionalString("uid", input.uid) ?? randomUUID();
  if (!UUID_RE.test(uid)) throw badParameter("audit event: uid must be a UUID");
  const time = toDate(input.time, clock);

  const rest: Record<string, unknown> = { ...input };
  for (const k of RESERVED) delete rest[k];
  const user = optionalString("user", input.user);
  const cluster = optionalString("cluster", input.cluster) ?? defaults.cluster;
  const error = optionalString("error", input.error);

  let fields = redact(rest);
  const base: AuditEvent = { event: name, code, time, uid };
  if (user !== undefined) base.user = user;
  if (cluster !== undefined) base.cluster = cluster;
  if (success !== undefined) base.success = success;
  if (error !== undefined) base.error = error.slice(0, TRIMMED_STRING_CHARS);

  let event: AuditEvent = { ...fields, ...base };
  if (Buffer.byteLength(serializeEvent(event)) > MAX_EVENT_BYTES) {
    fields = trimStrings(fields) as Record<string, unknown>;
    event = { ...fields, ...base, trimmed: true };
    if (Buffer.byteLength(serializeEvent(event)) > MAX_EVENT_BYTES) event = { ...base, trimmed: true };
  }
  return event;
}

/** JSON form of an event, time as RFC 3339 (what the JSON-lines sink writes). */
export function serializeEvent(e: AuditEvent): string {
  return JSON.stringify({ ...e, time: e.time.toISOString() });
}

/** Inverse of serializeEvent; `time` may come separately from a typed column. */
export function deserializeEvent(json: string | Record<string, unknown>, time?: Date): AuditEvent {
  const raw: unknown = typeof json === "string" ? JSON.parse(json) : json;
  if (typeof raw !== "object" || raw === null) throw new Error("stored audit event is not an object");
  const o = raw as Record<string, unknown>;
  const t = time ?? new Date(typeof o.time === "string" ? o.time : Number.NaN);
  return {
    ...o,
    event: String(o.event),
    code: String(o.code),
    uid: String(o.uid),
    time: t,
  };
}

/** Position of an event in (time, sequence) order; the paging cursor. */
export interface Cursor {
  t: number;
  s: number;
}

export function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify([c.t, c.s])).toString("base64url");
}

export function decodeCursor(key: string): Cursor {
  try {
    const v: unknown = JSON.parse(Buffer.from(key, "base64url").toString("utf8"));
    if (Array.isArray(v) && v.length === 2 && Number.isSafeInteger(v[0]) && Number.isSafeInteger(v[1])) {
      return { t: Number(v[0]), s: Number(v[1]) };
    }
  } catch {
    // fall through
  }
  throw badParameter("invalid audit search start key");
}

export interface NormalizedQuery {
  fromMs: number;
  toMs: number;
  types: string[] | undefined;
  user: string | undefined;
  limit: number;
  order: SearchOrder;
  after: Cursor | undefined;
}

export function normalizeQuery(q: SearchQuery): NormalizedQuery {
  const fromMs = q.from instanceof Date ? q.from.getTime() : Number.NaN;
  const toMs = q.to instanceof Date ? q.to.getTime() : Number.NaN;
  if (Number.isNaN(fromMs) || Number.isNaN(toMs)) throw badParameter("audit search: from and to must be valid dates");
  const limit = q.limit ?? DEFAULT_SEARCH_LIMIT;
  if (!Number.isInteger(limit) || limit < 1) throw badParameter("audit search: limit must be a positive integer");
  const order = q.order ?? "asc";
  if (order !== "asc" && order !== "desc") throw badParameter('audit search: order must be "asc" or "desc"');
  return {
    fromMs,
    toMs,
    types: q.types !== undefined && q.types.length > 0 ? [...q.types] : undefined,
    user: q.user,
    limit: Math.min(limit, MAX_SEARCH_LIMIT),
    order,
    after: q.startKey === undefined || q.startKey === "" ? undefined : decodeCursor(q.startKey),
  };
}

/** True when (t, s) comes after the cursor in the query's order. */
export function isAfter(c: Cursor, t: number, s: number, order: SearchOrder): boolean {
  return order === "asc" ? t > c.t || (t === c.t && s > c.s) : t < c.t || (t === c.t && s < c.s);
}
