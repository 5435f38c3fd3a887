import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { type Agent, BIN_PATH, cleanup, type Daemon, run, startAgent, startDaemon, tempDir } from "../harness/cluster.ts";
import { eventually, type LoggedIn, userLoggedIn } from "../harness/users.ts";

let d: Daemon;
let agent: Agent | undefined;
let u: LoggedIn;
const work = tempDir("recording");

interface Rec {
  sessionId: string;
  node: string;
  complete: boolean;
}

before(async () => {
  d = await startDaemon({ extraArgs: ["--roles", "auth,proxy"] });
  u = await userLoggedIn(d, "recorded", "access,auditor", "root");
  const tok = JSON.parse((await run("jctl", ["--data-dir", d.dataDir, "tokens", "add", "--type=node", "--format=json"])).stdout);
  writeFileSync(join(work, "agent.yaml"), "version: v3\njumpgate:\n  nodename: rec-node\nssh_service:\n  enabled: yes\n");
  agent = await startAgent({ proxyAddr: d.proxyAddr, token: tok.token, config: join(work, "agent.yaml") });
});
after(async () => {
  await agent?.stop();
  await d?.stop();
  cleanup(d?.dataDir ?? "", work, u?.home ?? "", agent?.dataDir ?? "");
});

async function recordings(): Promise<Rec[]> {
  const r = await u.jsh(["recordings", "ls", "--format=json"]);
  return JSON.parse(r.stdout) as Rec[];
}

test("an interactive session is recorded and plays back with jsh play", async () => {
  const before = new Set((await recordings()).map((r) => r.sessionId));
  const s = await u.jsh(["ssh", "-t", "root@rec-node"], { input: "echo recorded-$((40+2))-marker\nexit\n" });
  assert.equal(s.code, 0, s.stderr);
  let rec: Rec | undefined;
  await eventually(
    async () => {
      rec = (await recordings()).find((r) => !before.has(r.sessionId) && r.complete);
      return rec !== undefined;
    },
    15_000,
    "the recording to be uploaded",
  );
  const play = await u.jsh(["play", rec?.sessionId ?? "", "--speed=20"]);
  assert.equal(play.code, 0, play.stderr);
  assert.match(play.stdout, /recorded-42-marker/);
  const json = await u.jsh(["play", rec?.sessionId ?? "", "--format=json"]);
  const parsed = JSON.parse(json.stdout) as { header: { jumpgate: { user: string } }; events: unknown[] };
  assert.equal(parsed.header.jumpgate.user, "recorded");
  const ev = await run("jctl", ["--data-dir", d.dataDir, "audit", "events", "--type=session.end", "--format=json"]);
  assert.ok((JSON.parse(ev.stdout) as { sid?: string }[]).some((e) => e.sid === rec?.sessionId));
});

test("killing the node mid-session still yields the recording up to the kill", async () => {
  const before = new Set((await recordings()).map((r) => r.sessionId));
  const child = spawn(process.execPath, [BIN_PATH("jsh"), "ssh", "-t", "root@rec-node"], {
    env: { ...process.env, ...u.env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.on("data", (b: Buffer) => (out += b.toString()));
  child.stdin.write("echo before-the-$((1+1))-kill\n");
  await eventually(async () => /before-the-2-kill/.test(out.replace(/echo before/g, "")), 15_000, "the marker on screen");
  await new Promise((r) => setTimeout(r, 500));
  await agent?.kill9();
  child.kill();
  agent = await startAgent({ proxyAddr: d.proxyAddr, dataDir: agent?.dataDir ?? "", config: join(work, "agent.yaml") });
  let rec: Rec | undefined;
  await eventually(
    async () => {
      rec = (await recordings()).find((r) => !before.has(r.sessionId) && r.complete);
      return rec !== undefined;
    },
    20_000,
    "the interrupted recording to be completed after the restart",
  );
  const play = await u.jsh(["play", rec?.sessionId ?? "", "--speed=50"]);
  assert.match(play.stdout, /before-the-2-kill/);
});
