import assert from "node:assert/strict";
import { test } from "node:test";
import { cleanup, freePort, startDaemon } from "../harness/cluster.ts";

test("--diag-addr serves /healthz, /readyz and Prometheus /metrics; SIGTERM stops cleanly", async () => {
  const port = await freePort();
  const d = await startDaemon({ extraArgs: ["--diag-addr", `127.0.0.1:${port}`] });
  try {
    let health: Response | undefined;
    for (let i = 0; i < 50 && !health; i++) {
      health = await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined);
      if (!health) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(health?.status, 200);
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
    assert.equal(ready.status, 200);
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    assert.match(metrics, /^# HELP /m);
    assert.match(metrics, /process_cpu_seconds_total/);
    // Logs are JSON lines on stderr.
    const first = d
      .stderr()
      .split("\n")
      .find((l) => l.trim());
    assert.doesNotThrow(() => JSON.parse(first ?? ""));
  } finally {
    assert.equal(await d.stop(), 0);
    cleanup(d.dataDir);
  }
});
