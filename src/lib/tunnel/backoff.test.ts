import assert from "node:assert/strict";
import { test } from "node:test";
import { Backoff, backoffCeiling, backoffDelay } from "./backoff.ts";

test("the ceiling doubles from the base up to the cap", () => {
  const got = [0, 1, 2, 3, 4, 5, 6, 7, 8, 20, 5000].map((a) => backoffCeiling(a, 250, 30_000));
  assert.deepEqual(got, [250, 500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000, 30_000]);
  assert.equal(backoffCeiling(-1, 250, 30_000), 250);
  assert.equal(backoffCeiling(Number.NaN, 250, 30_000), 250);
  assert.equal(backoffCeiling(3, 250, 100), 100, "a cap below the base wins");
});

test("full jitter spans [min, ceiling]", () => {
  assert.equal(backoffDelay(3, { random: () => 0 }), 100);
  assert.equal(backoffDelay(3, { random: () => 0.999_999_999 }), 2000);
  assert.equal(backoffDelay(3, { random: () => 0.5 }), 1050);
  assert.equal(backoffDelay(0, { random: () => 0, minMs: 0 }), 0);
  assert.equal(backoffDelay(0, { random: () => 0.5, baseMs: 50, minMs: 100 }), 50, "min never exceeds the ceiling");
  // A misbehaving random source cannot produce negative or huge delays.
  assert.equal(backoffDelay(2, { random: () => -3 }), 100);
  assert.equal(backoffDelay(2, { random: () => 7 }), 1000);
  assert.equal(backoffDelay(2, { random: () => Number.NaN }), 100);
});

test("delays are spread out and stay within bounds", () => {
  let seed = 1;
  const random = () => {
    seed = (seed * 16807) % 2147483647;
    return (seed - 1) / 2147483646;
  };
  const delays = Array.from({ length: 2000 }, () => backoffDelay(10, { random }));
  assert.ok(delays.every((d) => d >= 100 && d <= 30_000));
  const buckets = new Set(delays.map((d) => Math.floor(d / 3000)));
  assert.ok(buckets.size >= 9, "full jitter should use the whole range");
});

test("Backoff grows with failures and resets after a long-lived connection", () => {
  const b = new Backoff({ random: () => 1, baseMs: 250, capMs: 30_000, resetAfterMs: 10_000 });
  const seq = Array.from({ length: 10 }, () => b.next(0));
  assert.deepEqual(seq, [250, 500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000]);
  assert.equal(b.attempts, 10);
  assert.equal(b.next(9_999), 30_000, "a short-lived connection does not reset");
  assert.equal(b.next(10_000), 250, "one that stayed up long enough does");
  assert.equal(b.next(0), 500);
  b.reset();
  assert.equal(b.next(), 250);
});
