import assert from "node:assert/strict";
import { test } from "node:test";
import { buildInfo, counter, createRegistry, gauge, histogram } from "./metrics.ts";

test("metrics get the jumpgate_ prefix and are created once per registry", async () => {
  const reg = createRegistry({ defaultMetrics: false });
  const c = counter(reg, { name: "connections_total", help: "Accepted connections", labelNames: ["protocol"] });
  c.inc({ protocol: "ssh" });
  assert.equal(counter(reg, { name: "jumpgate_connections_total", help: "again", labelNames: ["protocol"] }), c);
  gauge(reg, { name: "active_sessions", help: "Open sessions" }).set(3);
  histogram(reg, { name: "request_seconds", help: "Latency", labelNames: ["method"] }).observe({ method: "GET" }, 0.2);
  buildInfo(reg, "0.1.0");
  const text = await reg.metrics();
  assert.match(text, /^jumpgate_connections_total\{protocol="ssh"\} 1$/m);
  assert.match(text, /^jumpgate_active_sessions 3$/m);
  assert.match(text, /^jumpgate_request_seconds_bucket\{le="0.25",method="GET"\} 1$/m);
  assert.match(text, /^jumpgate_build_info\{version="0.1.0"\} 1$/m);
  assert.throws(() => gauge(reg, { name: "connections_total", help: "x" }), /another kind/);
  assert.throws(() => counter(reg, { name: "bad-name", help: "x" }), /invalid metric name/);
});

test("default process metrics and default labels", async () => {
  const reg = createRegistry({ labels: { cluster: "example" } });
  const text = await reg.metrics();
  assert.match(text, /^process_cpu_user_seconds_total\{cluster="example"\} /m);
  assert.match(text, /^nodejs_heap_size_total_bytes\{cluster="example"\} /m);
});
