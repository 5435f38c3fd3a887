import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, test } from "node:test";
import pty from "node-pty";
import { BIN_PATH, cleanup, type Daemon, freePort, run, startDaemon, tempDir } from "../harness/cluster.ts";
import { ensureOsUser, type LoggedIn, userLoggedIn } from "../harness/users.ts";

let d: Daemon;
let u: LoggedIn;
let node = "";
const work = tempDir("ssh");

before(async () => {
  ensureOsUser("alice");
  d = await startDaemon();
  u = await userLoggedIn(d, "sshuser", "access", "alice,root");
  const ls = JSON.parse((await u.jsh(["ls", "--format=json"])).stdout) as { hostname: string }[];
  node = ls[0]?.hostname ?? "";
  assert.ok(node, "the demo process runs a node");
});
after(async () => {
  await d?.stop();
  cleanup(d?.dataDir ?? "", work, u?.home ?? "");
});

test("jsh ssh runs a command as the login and returns its exit code", async () => {
  const r = await u.jsh(["ssh", `alice@${node}`, "echo $USER; echo err >&2; exit 3"]);
  assert.equal(r.code, 3, r.stderr);
  assert.equal(r.stdout.trim(), "alice");
  assert.equal(r.stderr.trim(), "err");
});

test("an interactive session has a terminal that follows window resizes", async () => {
  const term = pty.spawn(process.execPath, [BIN_PATH("jsh"), "ssh", `root@${node}`], {
    cols: 80,
    rows: 24,
    env: { ...process.env, ...u.env, TERM: "xterm" },
  });
  let screen = "";
  term.onData((s) => {
    screen += s;
  });
  const waitFor = async (re: RegExp) => {
    const deadline = Date.now() + 20_000;
    while (!re.test(screen)) {
      assert.ok(Date.now() < deadline, `terminal never showed ${re}:\n${screen}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  try {
    await waitFor(/[#$] $/m);
    term.write("stty size\r");
    await waitFor(/^24 80\r?$/m);
    term.resize(100, 30);
    await new Promise((r) => setTimeout(r, 300));
    term.write("stty size\r");
    await waitFor(/^30 100\r?$/m);
    term.write("exit\r");
  } finally {
    term.kill();
  }
});

test("unmodified OpenSSH through jsh config: ssh, scp of 50 MB, sftp batch, ssh -L", async () => {
  const cfg = join(work, "ssh_config");
  const c = await u.jsh(["config"]);
  assert.equal(c.code, 0, c.stderr);
  writeFileSync(cfg, c.stdout);
  const host = `${node}.test.local`;
  const ssh = (args: string[], input?: string) => run("ssh", ["-F", cfg, "-o", "BatchMode=yes", ...args], input === undefined ? {} : { input });

  const hello = await ssh([`root@${host}`, "echo openssh-$((40+2))"]);
  assert.equal(hello.code, 0, `${hello.stderr}\n${readFileSync(cfg, "utf8")}`);
  assert.equal(hello.stdout.trim(), "openssh-42");

  const big = join(work, "big.bin");
  writeFileSync(big, randomBytes(50 * 1024 * 1024));
  const sum = createHash("sha256").update(readFileSync(big)).digest("hex");
  const up = await run("scp", ["-F", cfg, "-o", "BatchMode=yes", big, `root@${host}:${work}/up.bin`], { timeoutMs: 180_000 });
  assert.equal(up.code, 0, up.stderr);
  const down = await run("scp", ["-F", cfg, "-o", "BatchMode=yes", `root@${host}:${work}/up.bin`, join(work, "down.bin")], {
    timeoutMs: 180_000,
  });
  assert.equal(down.code, 0, down.stderr);
  assert.equal(
    createHash("sha256")
      .update(readFileSync(join(work, "down.bin")))
      .digest("hex"),
    sum,
  );

  writeFileSync(join(work, "small.txt"), "sftp works\n");
  const batch = `put ${join(work, "small.txt")} ${work}/sftp-up.txt\nget ${work}/sftp-up.txt ${join(work, "sftp-down.txt")}\n`;
  const sftp = await run("sftp", ["-F", cfg, "-o", "BatchMode=yes", "-b", "-", `root@${host}`], { input: batch });
  assert.equal(sftp.code, 0, sftp.stderr);
  assert.equal(readFileSync(join(work, "sftp-down.txt"), "utf8"), "sftp works\n");

  const web = http.createServer((_req, res) => res.end("behind-the-node"));
  await new Promise<void>((r) => web.listen(0, "127.0.0.1", () => r()));
  const webPort = (web.address() as AddressInfo).port;
  const local = await freePort();
  const fwd = spawn("ssh", ["-F", cfg, "-o", "BatchMode=yes", "-o", "ExitOnForwardFailure=yes", "-N", "-L", `${local}:127.0.0.1:${webPort}`, `root@${host}`], {
    stdio: "ignore",
  });
  try {
    let body = "";
    for (let i = 0; i < 100 && body === ""; i++) {
      body = await fetch(`http://127.0.0.1:${local}/`)
        .then((r) => r.text())
        .catch(() => "");
      if (!body) await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(body, "behind-the-node");
  } finally {
    web.close();
    fwd.kill();
  }
});

test("jsh scp copies both ways and recursively", async () => {
  writeFileSync(join(work, "a.txt"), "jsh scp\n");
  const up = await u.jsh(["scp", join(work, "a.txt"), `root@${node}:${work}/jsh-up.txt`]);
  assert.equal(up.code, 0, up.stderr);
  const down = await u.jsh(["scp", `root@${node}:${work}/jsh-up.txt`, join(work, "jsh-down.txt")]);
  assert.equal(down.code, 0, down.stderr);
  assert.equal(readFileSync(join(work, "jsh-down.txt"), "utf8"), "jsh scp\n");
});
