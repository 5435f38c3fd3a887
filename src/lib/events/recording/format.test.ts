import assert from "node:assert/strict";
import { test } from "node:test";
import { isJumpgateError } from "../../../api/errors.ts";
import {
  encodeEvent,
  encodeHeader,
  headerFor,
  MAX_LINE_BYTES,
  OutputDecoder,
  parseRecording,
  type RecordingEvent,
  type RecordingItem,
  RecordingParser,
  secondsSince,
} from "./format.ts";
import { sessionMeta } from "./testkit.test-helpers.ts";

const START = new Date("2026-03-01T10:00:00.250Z");

function parseAll(bytes: Buffer, cuts: number[], o = {}): RecordingItem[] {
  const p = new RecordingParser(o);
  const out: RecordingItem[] = [];
  let from = 0;
  for (const c of [...cuts, bytes.length]) {
    out.push(...p.push(bytes.subarray(from, c)));
    from = c;
  }
  out.push(...p.end());
  return out;
}

function sample(): { bytes: Buffer; events: RecordingEvent[]; text: string } {
  const text = "$ echo héllo wörld €uro 😀 日本語\r\nhéllo wörld €uro 😀 日本語\r\n$ ";
  const raw = Buffer.from(text);
  const dec = new OutputDecoder();
  const events: RecordingEvent[] = [];
  // Feed the output in 3-byte chunks so nearly every multibyte character is split.
  for (let i = 0; i < raw.length; i += 3) {
    const data = dec.write(raw.subarray(i, i + 3));
    if (data) events.push({ type: "output", time: 0.001 * i, data });
    if (i === 30) events.push({ type: "resize", time: 0.001 * i, cols: 120, rows: 40 });
  }
  const rest = dec.end();
  if (rest) events.push({ type: "output", time: 1, data: rest });
  events.push({ type: "end", time: 1.5, reason: "end", extra: {} });
  const header = headerFor(sessionMeta(START, { sessionId: "00000000-0000-4000-8000-000000000001" }));
  const bytes = Buffer.from(encodeHeader(header) + events.map(encodeEvent).join(""));
  return { bytes, events, text };
}

const outputText = (items: RecordingItem[]) => items.map((i) => (i.type === "output" ? i.data : "")).join("");

test("round trip: multibyte UTF-8 split across output chunks comes back whole", () => {
  const { bytes, events, text } = sample();
  const items = parseAll(bytes, []);
  assert.equal(items[0]?.type, "header");
  assert.deepEqual(items.slice(1), events);
  assert.equal(outputText(items), text);
  assert.ok(!outputText(items).includes("\uFFFD"));
});

test("the parser takes the bytes cut at every position, including inside characters", () => {
  const { bytes } = sample();
  const whole = parseAll(bytes, []);
  for (let cut = 0; cut <= bytes.length; cut++) assert.deepEqual(parseAll(bytes, [cut]), whole, `cut at ${cut}`);
  const bytewise = Array.from({ length: bytes.length - 1 }, (_, i) => i + 1);
  assert.deepEqual(parseAll(bytes, bytewise), whole);
});

test("header carries the session's identity; times have millisecond precision", () => {
  const h = headerFor(sessionMeta(START, { cols: 132, rows: 43 }));
  assert.equal(h.version, 2);
  assert.equal(h.width, 132);
  assert.equal(h.height, 43);
  assert.equal(h.timestamp, Math.floor(START.getTime() / 1000));
  assert.equal(h.jumpgate.start, START.toISOString());
  assert.equal(h.jumpgate.user, "alice");
  assert.equal(secondsSince(START, new Date(START.getTime() + 1234.4)), 1.234);
  assert.equal(secondsSince(START, new Date(START.getTime() - 50)), 0);
  assert.equal(encodeEvent({ type: "resize", time: 2.5, cols: 100, rows: 30 }), '[2.5,"r","100x30"]\n');
  assert.equal(
    encodeEvent({ type: "end", time: 3, reason: "interrupted", extra: { dropped_bytes: 5 } }),
    '[3,"x",{"dropped_bytes":5,"reason":"interrupted"}]\n',
  );
});

test("a character cut at the very end of the output becomes U+FFFD; invalid bytes too", () => {
  const d = new OutputDecoder();
  assert.equal(d.write(Buffer.from([0x61, 0xe2, 0x82])), "a");
  assert.equal(d.end(), "\uFFFD");
  const d2 = new OutputDecoder();
  assert.equal(d2.write(Buffer.from([0xff, 0x62])), "\uFFFDb");
  const d3 = new OutputDecoder();
  assert.equal(d3.write(Buffer.from([0xef, 0xbb, 0xbf, 0x41])), "\uFEFFA", "a BOM in the output is kept");
});

test("streaming: parseRecording yields items from an async stream of chunks", async () => {
  const { bytes, events } = sample();
  async function* chunks() {
    for (let i = 0; i < bytes.length; i += 7) yield bytes.subarray(i, i + 7);
  }
  const items: RecordingItem[] = [];
  for await (const item of parseRecording(chunks())) items.push(item);
  assert.deepEqual(items.slice(1), events);
});

const HEADER = encodeHeader(headerFor(sessionMeta(START)));

function rejects(text: string | Buffer, re: RegExp, o = {}) {
  const bytes = typeof text === "string" ? Buffer.from(text) : text;
  assert.throws(
    () => parseAll(bytes, [], o),
    (e: unknown) => isJumpgateError(e, "bad-parameter") && re.test(e.message),
    `expected ${re} for ${JSON.stringify(bytes.toString().slice(0, 120))}`,
  );
}

test("malformed input is refused with bad-parameter", () => {
  rejects("not json\n", /header is not valid JSON/);
  rejects('[0,"o","x"]\n', /first line must be a header/);
  rejects(HEADER.replace('"version":2', '"version":3'), /unsupported version 3/);
  rejects(HEADER.replace('"width":80', '"width":0'), /width/);
  rejects(HEADER.replace('"width":80', '"width":80.5'), /width/);
  rejects(HEADER.replace('"user":"alice"', '"user":7'), /jumpgate.user/);
  rejects(HEADER.replace(/"start":"[^"]*"/, '"start":"yesterday"'), /start is not a time/);
  rejects(`${HEADER}{"a":1}\n`, /\[time, code, data\]/);
  rejects(`${HEADER}[1,"o"]\n`, /\[time, code, data\]/);
  rejects(`${HEADER}[-1,"o","x"]\n`, /non-negative/);
  rejects(`${HEADER}["1","o","x"]\n`, /non-negative/);
  rejects(`${HEADER}[1e300,"o","x"]\n`, /non-negative/);
  rejects(`${HEADER}[1,"o",5]\n`, /output data must be a string/);
  rejects(`${HEADER}[1,"r","80*24"]\n`, /COLSxROWS/);
  rejects(`${HEADER}[1,"r","0x24"]\n`, /cols/);
  rejects(`${HEADER}[1,"r","99999x24"]\n`, /cols/);
  rejects(`${HEADER}[1,"i","ls"]\n`, /unknown event code "i"/);
  rejects(`${HEADER}[1,"x",{"reason":"bored"}]\n`, /end reason/);
  rejects(`${HEADER}[1,"x","end"]\n`, /carry an object/);
  rejects(`${HEADER}[2,"o","a"]\n[1,"o","b"]\n`, /out of time order/);
  rejects(`${HEADER}[2,"x",{"reason":"end"}]\n[3,"o","b"]\n`, /after the end event/);
  rejects(`${HEADER}\n`, /not valid JSON/);
  rejects(`${HEADER}[1,"o","cut`, /middle of a line/);
  rejects(Buffer.concat([Buffer.from(`${HEADER}[1,"o","`), Buffer.from([0xc3, 0x28]), Buffer.from('"]\n')]), /UTF-8/);
});

test("a recording still being written may end mid-line when allowed", () => {
  const items = parseAll(Buffer.from(`${HEADER}[1,"o","a"]\n[2,"o","cu`), [], { allowPartialTail: true });
  assert.equal(items.length, 2);
});

test("size caps: an endless line is refused without buffering it all", () => {
  const p = new RecordingParser({ maxLineBytes: 1000 });
  p.push(Buffer.from(HEADER));
  p.push(Buffer.alloc(600, 0x61));
  assert.throws(() => p.push(Buffer.alloc(600, 0x61)), /longer than 1000 bytes/);
  // Failed parsers stay failed.
  assert.throws(() => p.push(Buffer.from('[1,"o","x"]\n')), /longer than 1000 bytes/);
  assert.throws(() => p.end(), /longer than 1000 bytes/);
  rejects(`${HEADER}[1,"o","${"a".repeat(MAX_LINE_BYTES)}"]\n`, /longer than/);
});

test("deeply nested JSON neither crashes nor hangs", () => {
  const deep = `${"[".repeat(500_000)}${"]".repeat(500_000)}`;
  rejects(`${HEADER}${deep}\n`, /.+/);
  rejects(`${'{"a":'.repeat(100_000)}1${"}".repeat(100_000)}\n`, /.+/);
});
