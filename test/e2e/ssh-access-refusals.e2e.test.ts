import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { cleanup, type Daemon, run, startDaemon, tempDir } from "../harness/cluster.ts";
import { type LoggedIn, userLoggedIn } from "../harness/users.ts";

let d: Daemon;
let other: Daemon;
let node = "";
let shortLived: LoggedIn;
let shortLivedUntil = 0;
const work = tempDir("refusals");
const homes: string[] = [];
const jctl = (...a: string[]) => run("jctl", ["--data-dir", d.dataDir, ...a]);

async function user(name: string, roles: string, logins: string, on = d): Promise<LoggedIn> {
  const u = await userLoggedIn(on, name, roles, logins);
  homes.push(u.home);
  return u;
}

async function audited(re: RegExp): Promise<boolean> {
  const r = await jctl("audit", "events", "--type=auth", "--format=json");
  return (JSON.parse(r.stdout) as { error?: string }[]).some((e) => re.test(e.error ?? ""));
}

/** Each refusal is one line on stderr that says why. */
function oneClearLine(stderr: string, re: RegExp): void {
  const lines = stderr
    .trim()
    .split("\n")
    .filter((l) => l.trim());
  assert.ok(
    lines.some((l) => re.test(l)),
    `no line matching ${re} in:\n${stderr}`,
  );
}

before(async () => {
  d = await startDaemon();
  writeFileSync(
    join(work, "roles.yaml"),
    `kind: role
version: v7
metadata: {name: elsewhere}
spec:
  allow:
    logins: [root]
    node_labels: {env: nowhere}
---
kind: role
version: v7
metadata: {name: no-root}
spec:
  deny:
    logins: [root]
---
kind: role
version: v7
metadata: {name: no-forwarding}
spec:
  options: {port_forwarding: false}
  allow:
    logins: [root]
    node_labels: {'*': '*'}
`,
  );
  const c = await jctl("create", "-f", join(work, "roles.yaml"));
  assert.equal(c.code, 0, c.stderr);
  shortLived = await userLoggedIn(d, "short-lived", "access", "root", { ttl: "1m" });
  homes.push(shortLived.home);
  shortLivedUntil = new Date((JSON.parse((await shortLived.jsh(["status", "--format=json"])).stdout) as { valid_until: string }).valid_until).getTime();
  const owner = await user("owner", "access", "root");
  node = (JSON.parse((await owner.jsh(["ls", "--format=json"])).stdout) as { hostname: string }[])[0]?.hostname ?? "";
  assert.ok(node);
});
after(async () => {
  await d?.stop();
  await other?.stop();
  cleanup(d?.dataDir ?? "", other?.dataDir ?? "", work, ...homes);
});

test("a login the user does not have is refused", async () => {
  const u = await user("no-daemon-login", "access", "root");
  const r = await u.jsh(["ssh", `daemon@${node}`, "true"]);
  assert.notEqual(r.code, 0);
  oneClearLine(r.stderr, /login "daemon"/);
  assert.ok(await audited(/daemon/));
});

test("a node outside the role's node_labels is refused at the proxy", async () => {
  const u = await user("wrong-labels", "elsewhere", "root");
  const r = await u.jsh(["ssh", `root@${node}`, "true"]);
  assert.notEqual(r.code, 0);
  oneClearLine(r.stderr, /denied|not found/);
  const ls = await u.jsh(["ls", "--format=json"]);
  assert.deepEqual(JSON.parse(ls.stdout), [], "nodes a user may not reach are not listed");
});

test("a deny rule beats an allow", async () => {
  const u = await user("denied-root", "access,no-root", "root");
  const r = await u.jsh(["ssh", `root@${node}`, "true"]);
  assert.notEqual(r.code, 0);
  oneClearLine(r.stderr, /denied|not allowed|no-root/);
});

test("port forwarding the role forbids is refused", async () => {
  const u = await user("no-fwd", "no-forwarding", "root");
  const ok = await u.jsh(["ssh", `root@${node}`, "echo allowed"]);
  assert.equal(ok.stdout.trim(), "allowed", ok.stderr);
  writeFileSync(join(work, "nofwd_config"), (await run("jsh", ["config"], { env: u.env })).stdout);
  const r = await run(
    "ssh",
    ["-F", join(work, "nofwd_config"), "-o", "BatchMode=yes", "-o", "ExitOnForwardFailure=yes", "-R", "0:127.0.0.1:9", `root@${node}.test.local`, "true"],
    { env: u.env },
  );
  assert.notEqual(r.code, 0);
  oneClearLine(r.stderr, /forwarding failed|forwarding.*(refused|denied|prohibited)/i);
});

test("a certificate from another cluster's CA is refused", async () => {
  other = await startDaemon();
  const stranger = await user("stranger", "access", "root", other);
  const key = join(stranger.home, "keys", other.proxyAddr.replace(":", "_"), "stranger");
  const r = await run("ssh", [
    "-F",
    "none",
    "-o",
    "BatchMode=yes",
    "-o",
    "StrictHostKeyChecking=no",
    "-o",
    "UserKnownHostsFile=/dev/null",
    "-i",
    key,
    "-o",
    `CertificateFile=${key}-cert.pub`,
    "-p",
    d.proxyAddr.split(":")[1] ?? "",
    "root@127.0.0.1",
    "true",
  ]);
  assert.notEqual(r.code, 0);
  oneClearLine(r.stderr, /authority|Permission denied/);
  assert.ok(await audited(/authority|not issued|unknown/i));
});

test("an expired certificate is refused", async () => {
  // Logged in at the start with a one-minute certificate; wait out what is left of it.
  const left = shortLivedUntil - Date.now();
  if (left > 0) await new Promise((r) => setTimeout(r, left + 1500));
  const r = await shortLived.jsh(["ssh", `root@${node}`, "true"]);
  assert.notEqual(r.code, 0);
  oneClearLine(`${r.stderr}`, /expired/);
  void r.stdout;
});
