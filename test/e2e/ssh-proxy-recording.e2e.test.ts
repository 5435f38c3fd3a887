import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { type Agent, cleanup, type Daemon, run, startAgent, startDaemon, tempDir } from "../harness/cluster.ts";
import { type Sshd, startSshd } from "../harness/sshd.ts";
import { eventually, type LoggedIn, userLoggedIn } from "../harness/users.ts";

let d: Daemon;
let sshd: Sshd | undefined;
let agent: Agent | undefined;
let u: LoggedIn;
const work = tempDir("proxy-rec");
const config = join(work, "jumpgate.yaml");
const jctl = (...a: string[]) => run("jctl", ["--data-dir", d.dataDir, ...a]);

interface Rec {
  sessionId: string;
  node: string;
  complete: boolean;
}
type Ev = Record<string, unknown>;

const writeConfig = (mode: string) =>
  writeFileSync(config, `version: v3\nauth_service:\n  enabled: yes\n  cluster_name: test.local\n  session_recording: ${mode}\n`);

async function recordings(): Promise<Rec[]> {
  const r = await u.jsh(["recordings", "ls", "--format=json"]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Rec[];
}

async function events(type: string): Promise<Ev[]> {
  const r = await jctl("audit", "events", `--type=${type}`, "--since=1h", "--format=json");
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Ev[];
}

/** The one new complete recording on `node` since `known`, once uploaded. */
async function newRecording(known: Set<string>, node: string): Promise<Rec> {
  let rec: Rec | undefined;
  await eventually(
    async () => {
      rec = (await recordings()).find((r) => !known.has(r.sessionId) && r.complete && r.node === node);
      return rec !== undefined;
    },
    20_000,
    `a recording of the session on ${node}`,
  );
  if (!rec) throw new Error("unreachable");
  return rec;
}

async function played(sessionId: string): Promise<string> {
  const p = await u.jsh(["play", sessionId, "--speed=50"]);
  assert.equal(p.code, 0, p.stderr);
  return p.stdout;
}

before(async () => {
  writeConfig("node");
  d = await startDaemon({ config, extraArgs: ["--roles", "auth,proxy"] });
  u = await userLoggedIn(d, "rec", "access,auditor", "root");

  writeFileSync(join(work, "user_ca.pub"), (await jctl("auth", "export", "--type=user")).stdout);
  const sign = await jctl("auth", "sign", "--host=legacy-rec", "--format=openssh", `--out=${join(work, "host")}`);
  assert.equal(sign.code, 0, sign.stderr);
  sshd = await startSshd(work, [
    `HostKey ${join(work, "host")}`,
    `HostCertificate ${join(work, "host-cert.pub")}`,
    `TrustedUserCAKeys ${join(work, "user_ca.pub")}`,
    "AuthorizedKeysFile none",
    "PasswordAuthentication no",
    "PermitRootLogin prohibit-password",
  ]);
  writeFileSync(
    join(work, "node.yaml"),
    `kind: node\nversion: v2\nsub_kind: openssh\nmetadata:\n  name: legacy-rec\n  labels: {env: legacy}\nspec:\n  addr: 127.0.0.1:${sshd.port}\n  hostname: legacy-rec\n`,
  );
  const created = await jctl("create", "-f", join(work, "node.yaml"));
  assert.equal(created.code, 0, created.stderr);

  const tok = JSON.parse((await jctl("tokens", "add", "--type=node", "--format=json")).stdout) as { token: string };
  writeFileSync(join(work, "agent.yaml"), "version: v3\njumpgate:\n  nodename: agent-rec\nssh_service:\n  enabled: yes\n");
  agent = await startAgent({ proxyAddr: d.proxyAddr, token: tok.token, config: join(work, "agent.yaml") });
  await eventually(async () => /agent-rec/.test((await u.jsh(["ls"])).stdout), 15_000, "the agent in jsh ls");
});

after(async () => {
  await agent?.stop();
  await sshd?.stop();
  await d?.stop();
  cleanup(d?.dataDir ?? "", work, u?.home ?? "", agent?.dataDir ?? "");
});

test("recording mode node: a jsh ssh PTY session on an agentless node is recorded at the proxy", async () => {
  const known = new Set((await recordings()).map((r) => r.sessionId));
  const s = await u.jsh(["ssh", "-t", "root@legacy-rec"], { input: "echo proxy-recorded-marker-$((6*7))\nexit\n" });
  assert.equal(s.code, 0, s.stderr);
  assert.match(s.stdout, /proxy-recorded-marker-42/);
  const rec = await newRecording(known, "legacy-rec");
  assert.match(await played(rec.sessionId), /proxy-recorded-marker-42/);
  const end = (await events("session.end")).find((e) => e.sid === rec.sessionId);
  assert.equal(end?.recording_id, rec.sessionId, "session.end carries the recording id");
  assert.equal(end?.server_hostname, "legacy-rec");
  assert.ok((await events("session.start")).some((e) => e.sid === rec.sessionId && e.session_type === "interactive"));
});

test("plain OpenSSH through jsh config: the proxy presents a host certificate for the node and records", async () => {
  writeFileSync(join(work, "ssh_config"), (await u.jsh(["config"])).stdout);
  const known = new Set((await recordings()).map((r) => r.sessionId));
  const r = await run("ssh", [
    "-F",
    join(work, "ssh_config"),
    "-o",
    "BatchMode=yes",
    "-o",
    "StrictHostKeyChecking=yes",
    "-tt",
    "root@legacy-rec.test.local",
    "echo openssh-recorded-$((6*7))",
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /openssh-recorded-42/);
  const rec = await newRecording(known, "legacy-rec");
  assert.match(await played(rec.sessionId), /openssh-recorded-42/);
});

test("an exec without a PTY is not recorded but still audited (exec, session.start, session.end)", async () => {
  const known = new Set((await recordings()).map((r) => r.sessionId));
  const r = await u.jsh(["ssh", "root@legacy-rec", "echo no-pty-$((1+1)); exit 3"]);
  assert.equal(r.code, 3, r.stderr);
  assert.equal(r.stdout.trim(), "no-pty-2");
  let exec: Ev | undefined;
  await eventually(
    async () => {
      exec = (await events("exec")).find((e) => String(e.command).includes("no-pty-") && e.server_hostname === "legacy-rec");
      return exec !== undefined;
    },
    10_000,
    "the exec event",
  );
  assert.equal(exec?.exit_code, 3);
  assert.equal(exec?.user, "rec");
  assert.equal(exec?.login, "root");
  const start = (await events("session.start")).find((e) => e.sid === exec?.sid);
  assert.equal(start?.session_type, "exec");
  const end = (await events("session.end")).find((e) => e.sid === exec?.sid);
  assert.ok(end, "session.end for the exec");
  assert.equal(end?.recording_id, undefined);
  assert.ok(!(await recordings()).some((x) => !known.has(x.sessionId) && x.node === "legacy-rec"), "no recording for an exec without a PTY");
});

test("RBAC refusals at the proxy are one clear line, and audited", async () => {
  writeFileSync(
    join(work, "prod-only.yaml"),
    "kind: role\nversion: v7\nmetadata: {name: prod-only}\nspec:\n  allow: {logins: [root], node_labels: {env: prod}}\n",
  );
  assert.equal((await jctl("create", "-f", join(work, "prod-only.yaml"))).code, 0);
  const other = await userLoggedIn(d, "outsider", "prod-only", "root");
  try {
    const r = await other.jsh(["ssh", "root@legacy-rec", "true"]);
    assert.notEqual(r.code, 0);
    const lines = r.stderr.trim().split("\n");
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0] ?? "", /^ERROR: .*legacy-rec/);
    // A login the user does not have at all, on a node he may reach: refused by the proxy's check of that login.
    const wrong = await u.jsh(["ssh", "nobody@legacy-rec", "true"]);
    assert.notEqual(wrong.code, 0);
    assert.equal(wrong.stderr.trim().split("\n").length, 1, wrong.stderr);
    assert.match(wrong.stderr, /nobody/);
    await eventually(
      async () => (await events("auth")).some((e) => e.success === false && e.login === "nobody" && e.user === "rec"),
      10_000,
      "the refusal in the audit log",
    );
  } finally {
    cleanup(other.home);
  }
});

test("recording mode proxy (auth_service.session_recording): an agent node's session is recorded once, by the proxy", async () => {
  await d.stop();
  writeConfig("proxy");
  const proxyPort = Number(d.proxyAddr.split(":")[1]);
  const authPort = Number(d.authAddr.split(":")[1]);
  d = await startDaemon({ config, dataDir: d.dataDir, proxyPort, authPort, extraArgs: ["--roles", "auth,proxy"] });
  const get = await jctl("get", "session_recording_config", "--format=json");
  assert.equal(get.code, 0, get.stderr);
  assert.match(get.stdout, /"mode": "proxy"/);
  await eventually(async () => (await u.jsh(["ssh", "root@agent-rec", "true"])).code === 0, 20_000, "the agent back after the restart");

  const known = new Set((await recordings()).map((r) => r.sessionId));
  const s = await u.jsh(["ssh", "-t", "root@agent-rec"], { input: "echo agent-via-proxy-$((6*7))\nexit\n" });
  assert.equal(s.code, 0, s.stderr);
  const rec = await newRecording(known, "agent-rec");
  assert.match(await played(rec.sessionId), /agent-via-proxy-42/);
  // Give a node-side recording, were there one, time to arrive: there must be none.
  await new Promise((r) => setTimeout(r, 3_000));
  const fresh = (await recordings()).filter((r) => !known.has(r.sessionId) && r.node === "agent-rec");
  assert.equal(fresh.length, 1, `one recording, not ${fresh.length}`);
  const end = (await events("session.end")).find((e) => e.recording_id === rec.sessionId);
  assert.equal(end?.proxied, true, "the proxy recorded it");
});
