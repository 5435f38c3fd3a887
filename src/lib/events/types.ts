import type { EventName } from "./codes.ts";

/**
 * The audit log contract (DESIGN §4, §8). Events are append-only, each with a
 * stable code, a unique id and a time; they are searched by time range.
 */

/** A stored audit event. Extra fields are event-specific and JSON-serialisable. */
export interface AuditEvent {
  /** Event name, e.g. "user.login" (see codes.ts). */
  event: string;
  /** Stable code, e.g. "T1000I"; derived from the event name and `success`. */
  code: string;
  time: Date;
  /** UUID; emitting the same uid twice stores the event once. */
  uid: string;
  user?: string;
  cluster?: string;
  success?: boolean;
  error?: string;
  [field: string]: unknown;
}

/** What callers hand to `emit`: uid, time and code are filled in when absent. */
export interface AuditEventInput {
  /** A name from codes.ts; other names keep a given `code`, or get UNKNOWN_EVENT_CODE. */
  event: EventName | (string & {});
  code?: string;
  time?: Date | string;
  uid?: string;
  user?: string;
  cluster?: string;
  success?: boolean;
  error?: string;
  [field: string]: unknown;
}

export type SearchOrder = "asc" | "desc";

export interface SearchQuery {
  /** Inclusive lower bound. */
  from: Date;
  /** Inclusive upper bound. */
  to: Date;
  /** Only these event names. Absent or empty: all. */
  types?: string[];
  /** Only events whose `user` is this. */
  user?: string;
  /** Page size; default 500, at most 10 000. */
  limit?: number;
  /** Default "asc" (oldest first). */
  order?: SearchOrder;
  /** `nextKey` from the previous page of the same query. */
  startKey?: string;
}

export interface SearchResult {
  events: AuditEvent[];
  /** Present when more events match: pass it as `startKey` for the next page. */
  nextKey?: string;
}

/** Something that receives every complete event (a JSON-lines file, a SIEM forwarder). */
export interface AuditSink {
  /** Receives an event whose uid, time and code are already set and whose secrets are redacted. */
  write(event: AuditEvent): Promise<void>;
  close(): Promise<void>;
}

export interface AuditLog {
  /** Fills uid/time/code, redacts secrets and stores the event; durable when the promise resolves. */
  emit(event: AuditEventInput): Promise<void>;
  search(query: SearchQuery): Promise<SearchResult>;
  close(): Promise<void>;
}

/** A log that can also take events prepared elsewhere (MultiAuditLog's primary). */
export interface AuditStore extends AuditLog, AuditSink {}
