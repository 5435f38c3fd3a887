import assert from "node:assert/strict";
import { test } from "node:test";
import { isJumpgateError } from "../../../api/errors.ts";
import { encodeV1, encodeV2, parseProxyHeader, V1_MAX_LENGTH, V2_MAX_LENGTH, V2_SIGNATURE } from "./index.ts";

/** A small seeded PRNG (mulberry32), so a failure can be replayed from its seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SEEDS: Buffer[] = [
  encodeV1({ source: { address: "203.0.113.7", port: 4242 }, destination: { address: "10.0.0.1", port: 443 } }),
  encodeV1({ source: { address: "2001:db8::7", port: 1 }, destination: { address: "2001:db8::1", port: 65535 } }),
  encodeV1(),
  encodeV2({ source: { address: "203.0.113.7", port: 4242 }, destination: { address: "10.0.0.1", port: 443 } }),
  encodeV2({
    source: { address: "2001:db8::7", port: 1 },
    destination: { address: "2001:db8::1", port: 2 },
    tlvs: Buffer.from([0x04, 0x00, 0x02, 0x61, 0x62]),
  }),
  encodeV2(),
  Buffer.concat([V2_SIGNATURE, Buffer.from([0x21, 0x31, 0x00, 216]), Buffer.alloc(216)]),
];

function mutate(r: () => number, seed: Buffer): Buffer {
  const b = Buffer.from(seed);
  const int = (n: number) => Math.floor(r() * n);
  switch (int(6)) {
    case 0: // flip a few bytes
      for (let i = 0, n = 1 + int(4); i < n; i++) b[int(b.length)] = int(256);
      return b;
    case 1: // truncate
      return b.subarray(0, int(b.length + 1));
    case 2: // append noise
      return Buffer.concat([b, Buffer.from(Array.from({ length: int(200) }, () => int(256)))]);
    case 3: // v2: random length field
      if (b.length > 16 && b[0] === 0x0d) b.writeUInt16BE(int(0x10000), 14);
      return b;
    case 4: // v1: replace a character with a plausible one
      b[int(b.length)] = " :.\r\n0123456789abcdefPROXYTCUNKW"[int(32)]?.charCodeAt(0) ?? 0;
      return b;
    default: // pure noise after a valid prefix
      return Buffer.concat([b.subarray(0, int(b.length)), Buffer.from(Array.from({ length: int(120) }, () => int(256)))]);
  }
}

test("fuzz: 20 000 mutated and random headers only ever yield a result or a bad-parameter error", () => {
  const r = rng(0x9e3779b9);
  const counts = { header: 0, "need-more": 0, error: 0 };
  const started = Date.now();
  for (let i = 0; i < 20_000; i++) {
    const input =
      i % 5 === 4
        ? Buffer.from(Array.from({ length: Math.floor(r() * 300) }, () => Math.floor(r() * 256)))
        : mutate(r, SEEDS[i % SEEDS.length] ?? Buffer.alloc(0));
    try {
      const res = parseProxyHeader(input);
      counts[res.kind]++;
      if (res.kind === "header") {
        assert.ok(res.consumed > 0 && res.consumed <= input.length, `consumed ${res.consumed} of ${input.length}`);
        if (res.header.command === "proxy") {
          for (const e of [res.header.source, res.header.destination]) assert.ok(Number.isInteger(e.port) && e.port >= 0 && e.port <= 65535);
        }
      } else {
        // Asking for more is only right while a header could still fit.
        assert.ok(input.length < Math.max(V1_MAX_LENGTH, V2_MAX_LENGTH), `need-more at ${input.length} bytes`);
        if (input[0] === 0x50) assert.ok(input.length < V1_MAX_LENGTH, "a v1 line never needs more than 107 bytes");
      }
    } catch (e) {
      if (!isJumpgateError(e, "bad-parameter")) throw new Error(`input ${input.toString("hex")} threw ${String(e)}`);
      counts.error++;
    }
  }
  // Every outcome was reached, and quickly: the parser has no slow path.
  assert.ok(counts.header > 100 && counts["need-more"] > 100 && counts.error > 1000, JSON.stringify(counts));
  assert.ok(Date.now() - started < 10_000, "fuzz loop took too long");
});

test("fuzz: byte-at-a-time feeding agrees with the whole buffer", () => {
  const r = rng(12345);
  for (let i = 0; i < 2_000; i++) {
    const input = mutate(r, SEEDS[i % SEEDS.length] ?? Buffer.alloc(0));
    const outcome = (b: Buffer) => {
      try {
        const res = parseProxyHeader(b);
        return res.kind === "header" ? `header:${res.consumed}` : "need-more";
      } catch {
        return "error";
      }
    };
    const whole = outcome(input);
    // Feeding a prefix never yields a header that the whole input contradicts.
    let early = "need-more";
    for (let n = 1; n <= input.length && early === "need-more"; n++) early = outcome(input.subarray(0, n));
    if (early.startsWith("header")) assert.equal(early, whole, input.toString("hex"));
    if (whole === "error") assert.notEqual(early.startsWith("header"), true);
  }
});
