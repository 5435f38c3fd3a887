/** Shared by the recording tests: fakes of Auth's store, a log, waiting. */
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { RecordingSessionMeta } from "./format.ts";
import type { RecordingLog } from "./spool.ts";
import type { RecordingMetadata, RecordingPart } from "./uploader.ts";

/** What both the fake and the real `RecordingStore` offer the tests. */
export interface StoreLike {
  append(id: string, offset: number, data: Buffer, complete: boolean, metadata?: Record<string, unknown>): number;
  /** The stored bytes, whether complete, and the metadata. */
  get(id: string): { data: Buffer; complete: boolean; metadata: Record<string, unknown> } | undefined;
}

/** Auth's recording-store semantics in memory: resends are ignored, a gap returns the size. */
export class FakeStore implements StoreLike {
  private readonly items = new Map<string, { data: Buffer; complete: boolean; metadata: Record<string, unknown> }>();

  append(id: string, offset: number, data: Buffer, complete: boolean, metadata?: Record<string, unknown>): number {
    const cur = this.items.get(id) ?? { data: Buffer.alloc(0), complete: false, metadata: {} };
    if (cur.complete && (data.length > 0 || offset !== cur.data.length)) throw new Error(`recording ${id} is already complete`);
    if (offset > cur.data.length) return cur.data.length;
    const fresh = data.subarray(cur.data.length - offset);
    const next = {
      data: Buffer.concat([cur.data, fresh]),
      complete: cur.complete || complete,
      metadata: { ...cur.metadata, ...(metadata ?? {}) },
    };
    this.items.set(id, next);
    return next.data.length;
  }

  get(id: string) {
    return this.items.get(id);
  }
}

export interface FlakyOptions {
  /** Decides, per call number (from 1), whether it fails, and whether before or after Auth stored the part. */
  fail?(call: number, part: RecordingPart): "before" | "after" | undefined;
}

/** An `upload` function over a store, with injectable failures and a call log. */
export function uploadTo(store: StoreLike, o: FlakyOptions = {}) {
  const calls: Array<{ offset: number; bytes: number; complete: boolean; metadata?: RecordingMetadata; failed?: string }> = [];
  const upload = async (part: RecordingPart): Promise<{ size: number }> => {
    await Promise.resolve();
    const mode = o.fail?.(calls.length + 1, part);
    calls.push({
      offset: part.offset,
      bytes: part.data.length,
      complete: part.complete,
      ...(part.metadata ? { metadata: part.metadata } : {}),
      ...(mode ? { failed: mode } : {}),
    });
    if (mode === "before") throw new Error("connection refused");
    const size = store.append(part.sessionId, part.offset, part.data, part.complete, part.metadata);
    if (mode === "after") throw new Error("connection reset after the part was stored");
    return { size };
  };
  return { upload, calls };
}

export function testLog(): RecordingLog & { lines: Array<{ level: string; msg: string; obj: object }> } {
  const lines: Array<{ level: string; msg: string; obj: object }> = [];
  const at = (level: string) => (obj: object, msg: string) => {
    lines.push({ level, msg, obj });
  };
  return { lines, debug: at("debug"), info: at("info"), warn: at("warn") };
}

export function tempDir(t: { after(f: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), "jg-rec-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export function sessionMeta(start: Date, over: Partial<RecordingSessionMeta> = {}): RecordingSessionMeta {
  return {
    sessionId: randomUUID(),
    user: "alice",
    login: "root",
    hostId: "5f3c0c52-4a43-4bd8-9d0b-0a4b5b0c1d2e",
    nodeName: "web-1",
    cols: 80,
    rows: 24,
    start,
    remoteAddr: "192.0.2.7:50122",
    ...over,
  };
}

export async function waitFor(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
