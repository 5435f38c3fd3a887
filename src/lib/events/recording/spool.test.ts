import assert from "node:assert/strict";
import { appendFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { FakeClock } from "../../../api/clock.ts";
import { isJumpgateError } from "../../../api/errors.ts";
import { encodeEvent, encodeHeader, headerFor, type RecordingItem, RecordingParser } from "./format.ts";
import { createSpoolRecorderFactory, type SpoolListener } from "./recorder.ts";
import { sealSpoolFile } from "./spool.ts";
import { sessionMeta, sleep, tempDir, testLog, waitFor } from "./testkit.test-helpers.ts";

const START = new Date("2026-03-01T10:00:00Z");

function listener() {
  const seen = { opened: [] as string[], written: new Map<string, number>(), finished: [] as string[] };
  const l: SpoolListener = {
    opened: (id) => seen.opened.push(id),
    written: (id, n) => seen.written.set(id, n),
    finished: (id) => seen.finished.push(id),
  };
  return { l, seen };
}

function items(path: string): RecordingItem[] {
  const p = new RecordingParser();
  return [...p.push(readFileSync(path)), ...p.end()];
}

test("a session's output reaches DIR/<id>.rec within the flush interval, with timing and resizes", async (t) => {
  const dir = tempDir(t);
  const clock = new FakeClock(START);
  const { l, seen } = listener();
  const rec = createSpoolRecorderFactory({ dir, clock, uploader: l });
  const meta = sessionMeta(START);
  const r = rec(meta);
  assert.deepEqual(seen.opened, [meta.sessionId]);
  const path = join(dir, `${meta.sessionId}.rec`);
  clock.advance(1500);
  r.output(Buffer.from("hello \xe2\x82", "latin1"));
  clock.advance(250);
  r.output(Buffer.from([0xac, 0x0a]));
  r.resize(100, 30);
  // Default cadence: on disk (and synced, so reported to the uploader) within ~200 ms.
  await waitFor(() => existsSync(path) && readFileSync(path, "utf8").includes("100x30"), "the spool write", 1000);
  await waitFor(() => (seen.written.get(meta.sessionId) ?? 0) === readFileSync(path).length, "the sync", 1000);
  clock.advance(1000);
  await r.close();
  await r.close();
  r.output(Buffer.from("after close"));
  assert.deepEqual(seen.finished, [meta.sessionId]);
  const got = items(path);
  assert.deepEqual(got.slice(1), [
    { type: "output", time: 1.5, data: "hello " },
    { type: "output", time: 1.75, data: "€\n" },
    { type: "resize", time: 1.75, cols: 100, rows: 30 },
    { type: "end", time: 2.75, reason: "end", extra: {} },
  ]);
});

test("64 KiB of output is written at once, without waiting for the timer", async (t) => {
  const dir = tempDir(t);
  const { l } = listener();
  const rec = createSpoolRecorderFactory({ dir, clock: new FakeClock(START), uploader: l, spool: { flushIntervalMs: 60_000 } });
  const meta = sessionMeta(START);
  const r = rec(meta);
  const path = join(dir, `${meta.sessionId}.rec`);
  r.output(Buffer.alloc(10_000, 0x61));
  await sleep(100);
  assert.ok(!existsSync(path) || readFileSync(path).length === 0, "small output waits for the timer");
  for (let i = 0; i < 7; i++) r.output(Buffer.alloc(10_000, 0x62));
  await waitFor(() => existsSync(path) && readFileSync(path).length > 64 * 1024, "the size-triggered write", 1000);
  await r.close();
});

test("a chatty session is never slowed down: output returns at once and memory stays capped", async (t) => {
  const dir = tempDir(t);
  const { l } = listener();
  const log = testLog();
  const cap = 1024 * 1024;
  const rec = createSpoolRecorderFactory({ dir, clock: new FakeClock(START), uploader: l, log, spool: { maxBufferBytes: cap } });
  const meta = sessionMeta(START);
  const r = rec(meta);
  const chunk = Buffer.alloc(64 * 1024, 0x79);
  const began = performance.now();
  for (let i = 0; i < 320; i++) r.output(chunk); // 20 MiB without yielding to the event loop
  const took = performance.now() - began;
  // Far below what writing it to disk would cost: nothing waits for the file.
  assert.ok(took < 5000, `recording 20 MiB took ${took} ms`);
  await r.close();
  const path = join(dir, `${meta.sessionId}.rec`);
  assert.ok(readFileSync(path).length <= cap + 4096, "the buffer never grew past its cap");
  const end = items(path).at(-1);
  assert.equal(end?.type, "end");
  assert.ok(end?.type === "end" && typeof end.extra.dropped_bytes === "number" && end.extra.dropped_bytes > 15_000_000);
  assert.ok(log.lines.some((x) => x.msg === "session recording lost output"));
});

test("session IDs must be UUIDs (they name files)", (t) => {
  const rec = createSpoolRecorderFactory({ dir: tempDir(t), clock: new FakeClock(START), uploader: listener().l });
  assert.throws(
    () => rec(sessionMeta(START, { sessionId: "../../etc/passwd" })),
    (e: unknown) => isJumpgateError(e, "bad-parameter"),
  );
});

test("output is split into bounded events, and a cut character at the end is kept as U+FFFD", async (t) => {
  const dir = tempDir(t);
  const rec = createSpoolRecorderFactory({ dir, clock: new FakeClock(START), uploader: listener().l });
  const meta = sessionMeta(START);
  const r = rec(meta);
  r.output(Buffer.from("€".repeat(50_000))); // 150 000 bytes
  r.output(Buffer.from([0xe2, 0x82]));
  await r.close();
  const got = items(join(dir, `${meta.sessionId}.rec`));
  const outs = got.filter((x) => x.type === "output");
  assert.ok(outs.length >= 5);
  assert.equal(outs.map((x) => (x.type === "output" ? x.data : "")).join(""), `${"€".repeat(50_000)}\uFFFD`);
});

// ---------------------------------------------------------------- sealing

function spoolFile(dir: string, body: string): string {
  const path = join(dir, "00000000-0000-4000-8000-000000000001.rec");
  writeFileSync(path, encodeHeader(headerFor(sessionMeta(START))) + body);
  return path;
}

test("seal: a torn last line is cut and an interrupted end added at the last event's time", async (t) => {
  const path = spoolFile(tempDir(t), '[1,"o","a"]\n[2.5,"o","b"]\n[3,"o","tor');
  const s = await sealSpoolFile(path);
  assert.equal(s?.interrupted, true);
  assert.equal(s?.endTime, 2.5);
  assert.equal(s?.header?.jumpgate.user, "alice");
  assert.equal(s?.size, readFileSync(path).length);
  assert.deepEqual(items(path).at(-1), { type: "end", time: 2.5, reason: "interrupted", extra: {} });
  // Sealing again changes nothing.
  const again = await sealSpoolFile(path);
  assert.equal(again?.interrupted, false);
  assert.equal(again?.size, s?.size);
});

test("seal: a file that already ends is left alone; a damaged last line is dropped", async (t) => {
  const dir = tempDir(t);
  const ended = spoolFile(dir, `[1,"o","a"]\n${encodeEvent({ type: "end", time: 4, reason: "end", extra: {} })}`);
  const before = readFileSync(ended);
  const s = await sealSpoolFile(ended);
  assert.deepEqual([s?.interrupted, s?.endReason, s?.endTime], [false, "end", 4]);
  assert.deepEqual(readFileSync(ended), before);

  const damaged = spoolFile(dir, '[1,"o","a"]\n[2,"o",\u0000\u0000]\n');
  await sealSpoolFile(damaged);
  assert.deepEqual(
    items(damaged)
      .slice(1)
      .map((x) => x.type),
    ["output", "end"],
  );
});

test("seal: a header alone gets an end at 0; nothing usable means undefined", async (t) => {
  const dir = tempDir(t);
  const headerOnly = spoolFile(dir, "");
  assert.equal((await sealSpoolFile(headerOnly))?.endTime, 0);
  assert.equal(items(headerOnly).length, 2);
  const torn = join(dir, "torn.rec");
  writeFileSync(torn, '{"version":2,"wid');
  assert.equal(await sealSpoolFile(torn), undefined);
  assert.equal(readFileSync(torn).length, 0);
  appendFileSync(torn, "");
  assert.equal(await sealSpoolFile(torn), undefined);
});
