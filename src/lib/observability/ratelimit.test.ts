import assert from "node:assert/strict";
import { test } from "node:test";
import { FakeClock } from "../../api/clock.ts";
import { createLogger } from "./logger.ts";
import { rateLimitedLogger } from "./ratelimit.ts";

function setup(opts: { perKey?: number; total?: number; maxKeys?: number } = {}) {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({ component: "mux", destination: { write: (s: string) => void lines.push(JSON.parse(s)) } });
  const clock = new FakeClock();
  const rl = rateLimitedLogger(log, { intervalMs: 60_000, clock, ...opts });
  return { lines, clock, rl };
}

test("at most N lines per key per interval, then a count of what was dropped", () => {
  const { lines, clock, rl } = setup({ perKey: 3 });
  for (let i = 0; i < 10; i++) rl.warn("10.0.0.1", { i }, "bad handshake");
  rl.warn("10.0.0.2", {}, "bad handshake");
  assert.equal(lines.length, 4);
  assert.deepEqual(
    lines.map((l) => l.rate_limit_key),
    ["10.0.0.1", "10.0.0.1", "10.0.0.1", "10.0.0.2"],
  );
  clock.advance(60_000);
  rl.warn("10.0.0.1", {}, "bad handshake");
  assert.equal(lines.length, 5);
  assert.equal(lines[4]?.suppressed, 7);
});

test("a total cap across keys, reported when the interval turns over", () => {
  const { lines, clock, rl } = setup({ perKey: 5, total: 10 });
  for (let i = 0; i < 50; i++) rl.warn(`10.0.${i}.1`, {}, "garbage");
  assert.equal(lines.length, 10);
  clock.advance(60_000);
  rl.warn("x", {}, "again");
  assert.equal(lines[10]?.suppressed, 40);
  assert.equal(lines[11]?.msg, "again");
});

test("disabled levels cost nothing and log nothing", () => {
  const { lines, rl } = setup();
  rl.debug("k", {}, "debug line");
  assert.equal(lines.length, 0);
});
