/**
 * Fuzzing the recording reader: thousands of random and mutated inputs, each
 * fed in random chunks. The reader must return items or throw bad-parameter —
 * never another error, never hang — and must not depend on where chunks are cut.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { isJumpgateError } from "../../../api/errors.ts";
import { encodeEvent, encodeHeader, headerFor, OutputDecoder, type RecordingEvent, type RecordingItem, RecordingParser } from "./format.ts";
import { sessionMeta } from "./testkit.test-helpers.ts";

/** A small seeded PRNG (mulberry32), so a failure can be replayed from its seed. */
function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  return { next, int, pick: <T>(xs: readonly T[]): T => xs[int(xs.length)] as T };
}
type Rng = ReturnType<typeof rng>;

const ALPHABET = ["a", "Z", " ", "\r\n", "\x1b[31m", "é", "€", "😀", "日", "\t", '"', "\\", "\n", "\u0000", "\x7f"];
const TOKENS = ["\n", "[", "]", "{", "}", '"', ",", ":", "0", "1.5", "-1", "1e999", '"o"', '"r"', '"x"', '"80x24"', "null", "\\u", "\\"];

function randomRecording(r: Rng): { bytes: Buffer; text: string } {
  const dec = new OutputDecoder();
  let t = 0;
  let raw = "";
  const events: RecordingEvent[] = [];
  for (let n = r.int(20); n > 0; n--) {
    t += r.int(3000) / 1000;
    if (r.int(6) === 0) {
      events.push({ type: "resize", time: t, cols: 1 + r.int(300), rows: 1 + r.int(100) });
      continue;
    }
    let s = "";
    for (let k = r.int(12); k > 0; k--) s += r.pick(ALPHABET);
    raw += s;
    const bytes = Buffer.from(s);
    // Cut the output into random byte chunks, as a PTY would.
    for (let i = 0; i < bytes.length; ) {
      const n2 = 1 + r.int(5);
      const data = dec.write(bytes.subarray(i, i + n2));
      if (data) events.push({ type: "output", time: t, data });
      i += n2;
    }
  }
  const rest = dec.end();
  if (rest) events.push({ type: "output", time: t, data: rest });
  if (r.int(4) !== 0) events.push({ type: "end", time: t, reason: r.int(2) ? "end" : "interrupted", extra: {} });
  const head = encodeHeader(headerFor(sessionMeta(new Date(1_767_225_600_000 + r.int(1e9)), { cols: 1 + r.int(500) })));
  return { bytes: Buffer.from(head + events.map(encodeEvent).join("")), text: raw };
}

function mutate(r: Rng, input: Buffer): Buffer {
  let b = Buffer.from(input);
  for (let n = 1 + r.int(4); n > 0; n--) {
    const at = r.int(b.length + 1);
    switch (r.int(7)) {
      case 0: {
        // flip a bit
        const i = Math.min(at, b.length - 1);
        if (b.length > 0) b[i] = (b[i] ?? 0) ^ (1 << r.int(8));
        break;
      }
      case 1: // random byte
        if (b.length > 0) b[Math.min(at, b.length - 1)] = r.int(256);
        break;
      case 2: // delete a run
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + r.int(8))]);
        break;
      case 3: // insert a JSON-ish token
        b = Buffer.concat([b.subarray(0, at), Buffer.from(r.pick(TOKENS)), b.subarray(at)]);
        break;
      case 4: // duplicate a slice
        b = Buffer.concat([b.subarray(0, at), b.subarray(r.int(b.length + 1), r.int(b.length + 1)), b.subarray(at)]);
        break;
      case 5: // truncate
        b = b.subarray(0, at);
        break;
      default: // random bytes
        b = Buffer.concat([b.subarray(0, at), Buffer.from(Array.from({ length: 1 + r.int(6) }, () => r.int(256))), b.subarray(at)]);
    }
  }
  return b;
}

/** Parses in random chunks; returns the items, or "rejected" for a bad-parameter error. */
function run(r: Rng, bytes: Buffer, maxLineBytes?: number): RecordingItem[] | "rejected" {
  const p = new RecordingParser(maxLineBytes === undefined ? {} : { maxLineBytes });
  const out: RecordingItem[] = [];
  try {
    let i = 0;
    while (i < bytes.length) {
      const n = 1 + r.int(r.int(2) ? 8 : 200);
      out.push(...p.push(bytes.subarray(i, i + n)));
      i += n;
    }
    out.push(...p.end());
    return out;
  } catch (e) {
    if (!isJumpgateError(e, "bad-parameter")) throw e;
    return "rejected";
  }
}

test("fuzz: valid recordings round-trip under any chunking", () => {
  const r = rng(1);
  for (let i = 0; i < 1000; i++) {
    const { bytes, text } = randomRecording(r);
    const items = run(r, bytes);
    assert.notEqual(items, "rejected", `seed case ${i}`);
    if (items === "rejected") return;
    const got = items.map((x) => (x.type === "output" ? x.data : "")).join("");
    assert.equal(got, text, `case ${i}`);
  }
});

test("fuzz: mutated recordings are read or refused the same way under any chunking", () => {
  const r = rng(2);
  let rejected = 0;
  const started = Date.now();
  for (let i = 0; i < 4000; i++) {
    const { bytes } = randomRecording(r);
    const bad = mutate(r, bytes);
    const a = run(r, bad, 600);
    const b = run(r, bad, 600);
    assert.deepEqual(a, b, `case ${i}: the result depends on the chunking`);
    if (a === "rejected") rejected++;
  }
  assert.ok(rejected > 1000, `only ${rejected} of 4000 mutations were refused`);
  assert.ok(Date.now() - started < 15_000, "fuzzing took too long");
});

test("fuzz: random bytes and random token soup never crash the reader", () => {
  const r = rng(3);
  for (let i = 0; i < 3000; i++) {
    const len = r.int(400);
    const bytes =
      i % 2 === 0 ? Buffer.from(Array.from({ length: len }, () => r.int(256))) : Buffer.from(Array.from({ length: r.int(60) }, () => r.pick(TOKENS)).join(""));
    const a = run(r, bytes, 300);
    assert.deepEqual(a, run(r, bytes, 300));
  }
});
