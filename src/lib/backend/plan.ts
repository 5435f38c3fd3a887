/**
 * The write rules every backend shares, as pure functions: given the stored row
 * (if any), the time and the last revision, a mutation either fails with a typed
 * error or yields the events to store. A backend then applies those events to its
 * items (put → upsert, delete → remove) and appends them to its history, all in
 * one transaction. Revisions are gap-free: every event takes the next one.
 */
import { alreadyExists, badParameter, compareFailed, notFound } from "../../api/errors.ts";
import { expiryMs, validateInput, validateKey, validateRevision } from "./keys.ts";
import type { BackendEvent, Item, ItemInput } from "./types.ts";

/** An item as stored: expiry in epoch milliseconds, null for never. */
export interface Row {
  key: string;
  value: Buffer;
  expires: number | null;
  revision: number;
}

/** One change in the event history. Deletes carry an empty value and no expiry. */
export interface EventRow {
  revision: number;
  type: "put" | "delete";
  key: string;
  value: Buffer;
  expires: number | null;
}

export interface CasExpectation {
  key: string;
  revision?: number;
  value?: Buffer;
}

export type Mutation =
  | { op: "put" | "create" | "update"; input: ItemInput }
  | { op: "cas"; expected: CasExpectation; input: ItemInput }
  | { op: "keepAlive"; key: string; expires: Date | undefined }
  | { op: "delete"; key: string };

const EMPTY = Buffer.alloc(0);

export function isLive(row: { expires: number | null }, nowMs: number): boolean {
  return row.expires === null || row.expires > nowMs;
}

export function rowToItem(row: Row): Item {
  const item: Item = { key: row.key, value: row.value, revision: row.revision };
  if (row.expires !== null) item.expires = new Date(row.expires);
  return item;
}

export function toBackendEvent(ev: EventRow): BackendEvent {
  if (ev.type === "delete") return { type: "delete", item: { key: ev.key, value: EMPTY, revision: ev.revision } };
  return { type: "put", item: rowToItem(ev) };
}

export function mutationKey(m: Mutation): string {
  return m.op === "keepAlive" || m.op === "delete" ? m.key : m.input.key;
}

/** Copies the caller's value buffer, so later changes to it reach neither the store nor watchers. */
export function ownMutation(m: Mutation): Mutation {
  if (m.op === "keepAlive" || m.op === "delete") return m;
  return { ...m, input: { ...m.input, value: Buffer.from(m.input.value) } };
}

/** Checks the shape of a mutation before any transaction starts. */
export function validateMutation(m: Mutation): void {
  switch (m.op) {
    case "keepAlive":
      validateKey(m.key);
      expiryMs(m.expires);
      return;
    case "delete":
      validateKey(m.key);
      return;
    case "cas":
      validateInput(m.input);
      if (m.expected.key !== m.input.key) throw badParameter("compareAndSwap: expected and replacement keys differ");
      if (m.expected.revision === undefined && m.expected.value === undefined) {
        throw badParameter("compareAndSwap needs an expected revision or value");
      }
      if (m.expected.revision !== undefined) validateRevision(m.expected.revision, "expected revision");
      if (m.expected.value !== undefined && !Buffer.isBuffer(m.expected.value)) {
        throw badParameter("expected value must be a Buffer");
      }
      return;
    default:
      validateInput(m.input);
  }
}

/**
 * Decides a mutation. `current` is the stored row, live or expired. An expired
 * row counts as absent; when the mutation succeeds it is first deleted with a
 * delete event of its own, so watchers always see expiry as a delete.
 */
export function planMutation(m: Mutation, current: Row | undefined, nowMs: number, lastRevision: number): { events: EventRow[]; item: Item | undefined } {
  const live = current !== undefined && isLive(current, nowMs) ? current : undefined;
  const key = mutationKey(m);
  const events: EventRow[] = [];
  let rev = lastRevision;
  if (current !== undefined && live === undefined) {
    events.push({ revision: ++rev, type: "delete", key, value: EMPTY, expires: null });
  }
  let next: Row | undefined;
  switch (m.op) {
    case "put":
      next = inputRow(m.input, rev + 1);
      break;
    case "create":
      if (live !== undefined) throw alreadyExists(`${key} already exists`);
      next = inputRow(m.input, rev + 1);
      break;
    case "update":
      if (live === undefined) throw notFound(`${key} not found`);
      next = inputRow(m.input, rev + 1);
      break;
    case "cas":
      checkExpectation(m.expected, live);
      next = inputRow(m.input, rev + 1);
      break;
    case "keepAlive":
      if (live === undefined) throw notFound(`${key} not found`);
      next = { key, value: live.value, expires: expiryMs(m.expires), revision: rev + 1 };
      break;
    case "delete":
      if (live === undefined) throw notFound(`${key} not found`);
      events.push({ revision: ++rev, type: "delete", key, value: EMPTY, expires: null });
      return { events, item: undefined };
  }
  events.push({ revision: next.revision, type: "put", key, value: next.value, expires: next.expires });
  return { events, item: rowToItem(next) };
}

function checkExpectation(expected: CasExpectation, live: Row | undefined): void {
  if (live === undefined) throw compareFailed(`${expected.key} does not exist`);
  if (expected.revision !== undefined && live.revision !== expected.revision) {
    throw compareFailed(`${expected.key} has changed (revision ${live.revision}, expected ${expected.revision})`);
  }
  if (expected.value !== undefined && !live.value.equals(expected.value)) {
    throw compareFailed(`${expected.key} has a different value than expected`);
  }
}

function inputRow(input: ItemInput, revision: number): Row {
  return { key: input.key, value: input.value, expires: expiryMs(input.expires), revision };
}

/** Delete events for keys removed together (deleteRange, expiry), in key order as given. */
export function deleteEvents(keys: readonly string[], lastRevision: number): EventRow[] {
  return keys.map((key, i) => ({ revision: lastRevision + i + 1, type: "delete", key, value: EMPTY, expires: null }));
}
