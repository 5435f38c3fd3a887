import assert from "node:assert/strict";
import { test } from "node:test";
import { isJumpgateError } from "../../../api/errors.ts";
import { encodeEvent, encodeHeader, headerFor, type RecordingEvent } from "./format.ts";
import { play, summarizeRecording, summary, toJsonEvents } from "./player.ts";
import { sessionMeta } from "./testkit.test-helpers.ts";

const START = new Date("2026-03-01T10:00:00Z");
const META = sessionMeta(START, { sessionId: "00000000-0000-4000-8000-0000000000aa" });

function recording(events: RecordingEvent[], tail = ""): Buffer {
  return Buffer.from(encodeHeader(headerFor(META)) + events.map(encodeEvent).join("") + tail);
}

const EVENTS: RecordingEvent[] = [
  { type: "output", time: 0.5, data: "$ echo recorded-marker\r\n" },
  { type: "output", time: 1.5, data: "recorded-marker\r\n" },
  { type: "resize", time: 2, cols: 100, rows: 30 },
  { type: "output", time: 60, data: "$ exit\r\n" },
  { type: "end", time: 61, reason: "end", extra: {} },
];

/** Chunks of 7 bytes, so lines and characters are cut everywhere. */
async function* chunks(b: Buffer) {
  for (let i = 0; i < b.length; i += 7) yield b.subarray(i, i + 7);
}

test("play at speed 2 prints the text with the timing halved and long pauses capped", async () => {
  let out = "";
  const sleeps: number[] = [];
  const resizes: string[] = [];
  const r = await play(chunks(recording(EVENTS)), {
    speed: 2,
    write: (s) => {
      out += s;
    },
    resize: (c, rows) => resizes.push(`${c}x${rows}`),
    sleep: async (ms) => {
      sleeps.push(ms);
    },
  });
  assert.equal(out, "$ echo recorded-marker\r\nrecorded-marker\r\n$ exit\r\n");
  assert.deepEqual(resizes, ["100x30"]);
  // 0.5 s and 1 s halved; 0.5 s halved; 58 s capped at 2 s / 2.
  assert.deepEqual(sleeps, [250, 500, 250, 1000]);
  assert.equal(r.endReason, "end");
  assert.equal(r.duration, 61);
  assert.equal(r.header.jumpgate.session_id, META.sessionId);
});

test("play with the real timer, fast", async () => {
  let out = "";
  const fast: RecordingEvent[] = [
    { type: "output", time: 0.05, data: "a" },
    { type: "output", time: 0.1, data: "é" },
  ];
  const began = Date.now();
  await play([recording(fast)], { speed: 2, write: (s) => (out += s) });
  assert.equal(out, "aé");
  assert.ok(Date.now() - began >= 40);
});

test("a recording still being uploaded plays up to its last whole line", async () => {
  let out = "";
  const r = await play(chunks(recording(EVENTS.slice(0, 2), '[1.7,"o","half')), {
    speed: 100,
    write: (s) => (out += s),
    sleep: async () => {},
  });
  assert.equal(out, "$ echo recorded-marker\r\nrecorded-marker\r\n");
  assert.equal(r.endReason, undefined);
});

test("bad speeds, empty and malformed recordings are refused with bad-parameter", async () => {
  const opts = { write: () => {}, sleep: async () => {} };
  for (const speed of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
    await assert.rejects(play([recording(EVENTS)], { ...opts, speed }), (e: unknown) => isJumpgateError(e, "bad-parameter"));
  }
  await assert.rejects(play([], { ...opts, speed: 1 }), /empty/);
  await assert.rejects(play([Buffer.from("garbage\n")], { ...opts, speed: 1 }), (e: unknown) => isJumpgateError(e, "bad-parameter"));
});

test("toJsonEvents gives the header and the events as objects", async () => {
  const j = await toJsonEvents(chunks(recording(EVENTS)));
  assert.equal(j.header.width, 80);
  assert.equal(j.header.jumpgate.user, "alice");
  assert.deepEqual(j.events, EVENTS);
  assert.deepEqual(JSON.parse(JSON.stringify(j)).events[2], { type: "resize", time: 2, cols: 100, rows: 30 });
});

test("summary from listing metadata, and from the recording itself", async () => {
  const s = summary({
    sessionId: META.sessionId,
    metadata: { user: "alice", login: "root", node_name: "web-1", start: START.toISOString(), duration_ms: 61000 },
  });
  assert.deepEqual(s, { sessionId: META.sessionId, user: "alice", login: "root", node: "web-1", start: START, durationMs: 61000 });
  assert.deepEqual(summary({ sessionId: "x", metadata: { user: 5, start: "never" } }), {
    sessionId: "x",
    user: "",
    login: "",
    node: "",
    start: undefined,
    durationMs: undefined,
  });
  assert.deepEqual(await summarizeRecording(chunks(recording(EVENTS))), { ...s });
});
