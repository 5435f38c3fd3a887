import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import net from "node:net";
import { test } from "node:test";
import { startLocalDbProxy } from "./dbproxy.ts";

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

test("when the proxy cannot be reached, the mysql client prints why (ERROR 1045), not a protocol error", async () => {
  const proxy = `127.0.0.1:${await closedPort()}`;
  const local = await startLocalDbProxy({
    profile: { proxy, insecure: true },
    database: { name: "maria", protocol: "mysql" },
    tunnel: true,
    credentials: { cert: "", key: "", hostCas: [] },
    onError: () => undefined,
  });
  try {
    const r = await new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile(
        "mysql",
        ["--no-defaults", "-h", "127.0.0.1", "-P", String(local.port), "-u", "alice", "-e", "select 1"],
        { timeout: 20_000 },
        (err, _stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stderr }),
      );
    });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /^ERROR 1045 \(28000\).*cannot reach database maria through 127\.0\.0\.1:\d+/m);
  } finally {
    await local.close();
  }
});
