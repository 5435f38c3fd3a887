import assert from "node:assert/strict";
import { test } from "node:test";
import { isJumpgateError } from "../../api/errors.ts";
import { type ReadyState, startDiagServer } from "./diag.ts";
import { counter, createRegistry } from "./metrics.ts";

test("healthz, readyz and metrics on an ephemeral port", async () => {
  const registry = createRegistry();
  counter(registry, { name: "test_total", help: "A test counter" }).inc(2);
  let ready: ReadyState = false;
  const diag = await startDiagServer({ addr: "127.0.0.1:0", registry, isReady: () => ready });
  try {
    assert.ok(diag.port > 0);
    const base = `http://127.0.0.1:${diag.port}`;

    const health = await fetch(`${base}/healthz`);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: "ok" });

    const notReady = await fetch(`${base}/readyz`);
    assert.equal(notReady.status, 503);
    assert.deepEqual(await notReady.json(), { status: "not ready", reason: "not ready" });
    ready = { ready: false, reason: "backend unreachable" };
    assert.deepEqual(await (await fetch(`${base}/readyz`)).json(), {
      status: "not ready",
      reason: "backend unreachable",
    });
    ready = true;
    const ok = await fetch(`${base}/readyz`);
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), { status: "ok" });

    const metrics = await fetch(`${base}/metrics`);
    assert.equal(metrics.status, 200);
    assert.match(metrics.headers.get("content-type") ?? "", /^text\/plain/);
    const text = await metrics.text();
    assert.match(text, /^jumpgate_test_total 2$/m);
    assert.match(text, /^process_resident_memory_bytes /m);

    assert.equal((await fetch(`${base}/nope`)).status, 404);
    assert.equal((await fetch(`${base}/healthz?x=1`)).status, 200);
    assert.equal((await fetch(`${base}/healthz`, { method: "POST" })).status, 405);
  } finally {
    await diag.close();
  }
});

test("a failing or hanging readiness check answers 503 with the reason", async () => {
  const registry = createRegistry({ defaultMetrics: false });
  let mode: "throw" | "hang" = "throw";
  const diag = await startDiagServer({
    addr: "127.0.0.1:0",
    registry,
    readyTimeoutMs: 100,
    isReady: () => {
      if (mode === "throw") throw new Error("auth not connected");
      return new Promise<boolean>(() => {});
    },
  });
  try {
    const base = `http://127.0.0.1:${diag.port}`;
    assert.deepEqual(await (await fetch(`${base}/readyz`)).json(), {
      status: "not ready",
      reason: "auth not connected",
    });
    mode = "hang";
    const r = await fetch(`${base}/readyz`);
    assert.equal(r.status, 503);
    assert.deepEqual(await r.json(), { status: "not ready", reason: "readiness check timed out" });
  } finally {
    await diag.close();
    await diag.close();
  }
});

test("bad addresses are refused, busy ports reject", async () => {
  const registry = createRegistry({ defaultMetrics: false });
  await assert.rejects(startDiagServer({ addr: "nope", registry, isReady: () => true }), (e) => isJumpgateError(e, "bad-parameter"));
  const a = await startDiagServer({ addr: "127.0.0.1:0", registry, isReady: () => true });
  await assert.rejects(startDiagServer({ addr: `127.0.0.1:${a.port}`, registry, isReady: () => true }), /EADDRINUSE/);
  await a.close();
});
