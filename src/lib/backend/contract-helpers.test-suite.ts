/** Types and helpers shared by the backend contract suite's files. */
import assert from "node:assert/strict";
import type { FakeClock } from "../../api/clock.ts";
import { isJumpgateError } from "../../api/errors.ts";
import type { ExpirySweeper } from "./options.ts";
import type { Backend, BackendEvent, Watcher } from "./types.ts";

export interface ContractSubject {
  backend: Backend & ExpirySweeper;
  clock: FakeClock;
  cleanup: () => Promise<void>;
}

/** Options a test may ask the factory for; factories must honour them. */
export interface ContractOptions {
  historyLimit?: number;
}

export type MakeBackend = (opts: ContractOptions) => Promise<ContractSubject>;

/** Registers a test that gets a fresh backend and always closes and cleans it up. */
export type WithBackend = (title: string, fn: (s: ContractSubject) => Promise<void>, opts?: ContractOptions) => void;

export const buf = (s: string): Buffer => Buffer.from(s);

export async function rejectsWith(p: Promise<unknown>, kind: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isJumpgateError(e), `expected a JumpgateError, got ${String(e)}`);
    assert.equal(e.kind, kind);
    return true;
  });
}

/** Reads the next n events, failing if they do not all arrive within timeoutMs. */
export async function take(w: Watcher, n: number, timeoutMs = 5000): Promise<BackendEvent[]> {
  const it = w[Symbol.asyncIterator]();
  const out: BackendEvent[] = [];
  const deadline = Date.now() + timeoutMs;
  while (out.length < n) {
    const r = await within(it.next(), deadline - Date.now(), () => `got ${out.length} of ${n} events: ${show(out)}`);
    if (r.done === true) break;
    out.push(r.value);
  }
  return out;
}

/** "put /a/1", "delete /a/1", ... */
export function show(events: readonly BackendEvent[]): string[] {
  return events.map((e) => `${e.type} ${e.item.key}`);
}

export async function within<T>(p: Promise<T>, ms: number, what: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out: ${what()}`)), Math.max(ms, 0));
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
