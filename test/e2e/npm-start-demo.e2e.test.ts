import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { test } from "node:test";
import { cleanup, freePort, ROOT, tempDir } from "../harness/cluster.ts";
import { webJson } from "../harness/web.ts";

test("npm start runs a demo cluster and prints the first admin's sign-up link and how to log in", async () => {
  const dataDir = tempDir("npm-start");
  const [proxy, auth] = [await freePort(), await freePort()];
  // The README's command, with ports and data dir moved so tests never collide with a real demo.
  const child = spawn(
    "npm",
    ["start", "--", "--data-dir", dataDir, "--listen", `127.0.0.1:${proxy}`, "--auth-listen", `127.0.0.1:${auth}`, "--public-addr", `localhost:${proxy}`],
    { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], detached: true },
  );
  let out = "";
  child.stdout.on("data", (b: Buffer) => (out += b.toString()));
  child.stderr.on("data", () => undefined);
  try {
    const deadline = Date.now() + 60_000;
    while (!/jsh login/.test(out)) {
      assert.ok(Date.now() < deadline, `no sign-up link printed:\n${out}`);
      assert.equal(child.exitCode, null, `npm start exited:\n${out}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const link = /https:\/\/localhost:(\d+)\/web\/invite\/([0-9a-f]+)/.exec(out);
    assert.ok(link, out);
    assert.equal(Number(link[1]), proxy);
    assert.match(out, new RegExp(`jsh login --proxy=localhost:${proxy} --user=admin --insecure`));
    // The link works: the invite page knows the admin.
    const invite = await webJson(`127.0.0.1:${proxy}`, "GET", `/webapi/invites/${link[2]}`);
    assert.equal(invite.status, 200);
    assert.equal(invite.body.user, "admin");
  } finally {
    if (child.pid) process.kill(-child.pid, "SIGTERM");
    await new Promise((r) => child.once("exit", r));
    cleanup(dataDir);
  }
});
