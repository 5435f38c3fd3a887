import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import * as nodePty from "node-pty";
import { ensureUser, FULL_POLICY, type Kit, run, start, startKit, waitFor } from "./ssh.test-helpers.ts";

let kit: Kit;
let root: string[];
let jg: string[];
const ssh = (id: string[], login: string, ...rest: string[]) => [...kit.sshOpts(), ...id, "-p", String(kit.port), ...rest, `${login}@127.0.0.1`];
const sha256 = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");

before(async () => {
  ensureUser("jgtest");
  kit = await startKit();
  root = kit.identity("alice", ["root", "jgtest"]);
  jg = kit.identity("bob", ["jgtest"]);
});
after(() => kit.close());

test("exec: stdout, stderr and the exit code come back separately", async () => {
  const r = await run("ssh", [...ssh(root, "root"), "echo $USER; echo to-stderr >&2; exit 3"]);
  assert.equal(r.stdout, "root\n");
  assert.match(r.stderr, /to-stderr/);
  assert.equal(r.status, 3);
  const exec = kit.events.find((e) => e.event === "exec" && e.command === "echo $USER; echo to-stderr >&2; exit 3");
  assert.ok(exec, "exec event");
  assert.equal(exec.exit_code, 3);
  assert.equal(exec.user, "alice");
  const start = kit.events.find((e) => e.event === "session.start" && e.sid === exec.sid);
  assert.equal(start?.session_type, "exec");
  assert.equal(start?.server_id, "0b5c3f0e-7d1e-4f39-9c55-1f2d2a6b9e01");
  assert.equal(start?.server_hostname, "web-1");
  assert.equal(start?.addr_remote, "127.0.0.1");
  const end = kit.events.find((e) => e.event === "session.end" && e.sid === exec.sid);
  assert.deepEqual(end?.participants, ["alice"]);
  assert.equal(end?.interactive, false);
});

test("exec runs as the login user: uid, groups, HOME, cwd, SHELL", async () => {
  const r = await run("ssh", [...ssh(jg, "jgtest"), 'echo "$USER $LOGNAME $HOME $SHELL $(pwd) $(id -un)"; id -G']);
  assert.equal(r.status, 0, r.stderr);
  const [line, groups] = r.stdout.trim().split("\n");
  assert.equal(line, "jgtest jgtest /home/jgtest /bin/bash /home/jgtest jgtest");
  assert.ok(!(groups ?? "").split(" ").includes("0"), `root's group leaked: ${groups}`);
});

test("stdin streams to the command and EOF ends it (ssh host cat pipelines)", async () => {
  const r = await run("ssh", [...ssh(root, "root"), "cat; echo done"], { input: "line 1\nline 2\n" });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, "line 1\nline 2\ndone\n");
});

test("env: LANG/LC_* are accepted, other names are not", async () => {
  const r = await run("ssh", [...ssh(root, "root", "-o", "SetEnv=LC_JG=yes EVIL=no"), 'echo "${LC_JG}-${EVIL}"']);
  assert.equal(r.stdout, "yes-\n");
});

test("a command killed by a signal reports exit-signal", async () => {
  const r = await run("ssh", [...ssh(root, "root"), "kill -TERM $$"]);
  assert.equal(r.status, 255);
  await waitFor(() => kit.events.find((e) => e.event === "exec" && e.command === "kill -TERM $$" && e.signal === "TERM"), 5000, "exec event");
});

test("PTY session: stty size sees the terminal size and follows a resize; the session is recorded", async () => {
  const p = nodePty.spawn("ssh", [...ssh(root, "root", "-tt")], { cols: 80, rows: 24, env: { ...process.env, TERM: "xterm" } });
  let out = "";
  p.onData((d) => {
    out += d;
  });
  const exited = new Promise<number>((resolve) => p.onExit(({ exitCode }) => resolve(exitCode)));
  try {
    p.write("stty size; echo $((20+1))ok\r");
    await waitFor(() => /24 80\r?\n21ok/.test(out) || undefined, 10_000, `first stty size in ${JSON.stringify(out)}`);
    p.resize(100, 40);
    await waitFor(
      async () => {
        p.write("stty size; echo $((40+2))ok\r");
        await new Promise((r) => setTimeout(r, 200));
        return /40 100\r?\n42ok/.test(out) || undefined;
      },
      10_000,
      `resized stty size in ${JSON.stringify(out)}`,
    );
    p.write("echo $TERM $((6*7))marker; exit 5\r");
    assert.equal(await exited, 5);
  } finally {
    p.kill();
  }
  const start = kit.events.find((e) => e.event === "session.start" && e.session_type === "interactive");
  assert.ok(start);
  const rec = kit.recordings.find((r) => r.meta.sessionId === start.sid);
  assert.ok(rec, "recording");
  assert.equal(rec.meta.cols, 80);
  assert.equal(rec.meta.rows, 24);
  assert.match(Buffer.concat(rec.output).toString(), /xterm 42marker/);
  assert.deepEqual(rec.resizes.at(-1), [100, 40]);
  assert.ok(rec.closed);
  const end = await waitFor(() => kit.events.find((e) => e.event === "session.end" && e.sid === start.sid), 5000, "session.end");
  assert.equal(end.recording_id, start.sid);
  assert.equal(end.interactive, true);
  assert.equal(end.exit_code, 5);
});

test("scp of 50 MB both ways (legacy scp protocol up, SFTP-based scp down), checksum-exact", async () => {
  const src = join(kit.dir, "big.bin");
  writeFileSync(src, randomBytes(50 * 1024 * 1024));
  const up = join(kit.dir, "uploaded.bin");
  const down = join(kit.dir, "downloaded.bin");
  const scpOpts = [...kit.sshOpts(), ...root, "-P", String(kit.port)];
  const t0 = Date.now();
  const u = await run("scp", ["-O", ...scpOpts, src, `root@127.0.0.1:${up}`], { timeoutMs: 30_000 });
  assert.equal(u.status, 0, u.stderr);
  const t1 = Date.now();
  const d = await run("scp", [...scpOpts, `root@127.0.0.1:${up}`, down], { timeoutMs: 30_000 });
  assert.equal(d.status, 0, d.stderr);
  const t2 = Date.now();
  assert.equal(sha256(up), sha256(src));
  assert.equal(sha256(down), sha256(src));
  // Generous bounds: loopback does this in well under a second each way.
  assert.ok(t1 - t0 < 15_000 && t2 - t1 < 15_000, `scp too slow: up ${t1 - t0} ms, down ${t2 - t1} ms`);
  const scp = kit.events.find((e) => e.event === "scp");
  assert.equal(scp?.action, "upload");
  assert.equal(scp?.path, up);
  assert.ok(kit.events.some((e) => e.event === "sftp" && Number(e.bytes_out) >= 50 * 1024 * 1024));
});

test("sftp -b: batch put and get as the login user", async () => {
  const local = join(kit.dir, "note.txt");
  writeFileSync(local, "hello over sftp\n");
  const batch = join(kit.dir, "batch");
  writeFileSync(batch, `put ${local} note.txt\nget note.txt ${join(kit.dir, "back.txt")}\nrm note.txt\n`);
  const r = await run("sftp", ["-b", batch, ...kit.sshOpts(), ...jg, "-P", String(kit.port), "jgtest@127.0.0.1"]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(readFileSync(join(kit.dir, "back.txt"), "utf8"), "hello over sftp\n");
  const ev = await waitFor(() => kit.events.find((e) => e.event === "sftp" && e.user === "bob"), 5000, "sftp event");
  assert.ok(Number(ev.bytes_in) > 16);
  assert.ok(kit.events.some((e) => e.event === "subsystem" && e.name === "sftp" && e.login === "jgtest"));
});

test("activeSessions lists a running session", async () => {
  const p = run("ssh", [...ssh(root, "root"), "sleep 1"]);
  const s = await waitFor(() => kit.service.activeSessions().find((x) => x.user === "alice"), 5000, "active session");
  assert.equal(s.login, "root");
  await p;
  await waitFor(() => (kit.service.activeSessions().length === 0 ? true : undefined), 5000, "no sessions");
});

test("a client that goes away mid-output: the program is hung up and nothing is left running", async () => {
  const marker = `jgmark${process.pid}x${Date.now()}`;
  const s = start("ssh", [...ssh(root, "root"), `exec -a ${marker} yes`]);
  await waitFor(() => (spawnSync("pgrep", ["-f", marker]).status === 0 ? true : undefined), 5000, "the program to run");
  s.proc.kill("SIGKILL");
  await waitFor(() => (spawnSync("pgrep", ["-f", marker]).status === 1 ? true : undefined), 5000, "the program to be gone");
  const again = await run("ssh", [...ssh(root, "root"), "echo alive"]);
  assert.equal(again.stdout, "alive\n");
});

test("a PTY is refused when the policy forbids it", async () => {
  kit.authorizer.policies.set("nopty", { ...FULL_POLICY, permitPty: false });
  const r = await run("ssh", [...ssh(kit.identity("nopty", ["root"]), "root", "-tt"), "tty"]);
  // With -tt OpenSSH gives up when the PTY is refused.
  assert.match(r.stderr, /PTY allocation request failed/);
  assert.ok(!kit.events.some((e) => e.event === "session.start" && e.user === "nopty" && e.session_type === "interactive"));
  const plain = await run("ssh", [...ssh(kit.identity("nopty", ["root"]), "root"), "tty; true"]);
  assert.equal(plain.stdout, "not a tty\n");
});
