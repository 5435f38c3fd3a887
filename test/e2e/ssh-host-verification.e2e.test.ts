import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { cleanup, type Daemon, run, startDaemon, tempDir } from "../harness/cluster.ts";
import { type Sshd, startSshd } from "../harness/sshd.ts";
import { eventually, type LoggedIn, userLoggedIn } from "../harness/users.ts";

/**
 * `jsh ssh` trusts a node only when it shows a host certificate from this
 * cluster's host CA for the name asked for, as OpenSSH does with the
 * `@cert-authority` line `jsh login` writes. Impostors are stock sshds here.
 */
let d: Daemon;
let u: LoggedIn;
const sshds: Sshd[] = [];
const work = tempDir("hostverify");
const jctl = (...a: string[]) => run("jctl", ["--data-dir", d.dataDir, ...a]);

before(async () => {
  d = await startDaemon({ extraArgs: ["--roles", "auth,proxy"] });
  u = await userLoggedIn(d, "ops", "access", "root");
  writeFileSync(join(work, "user_ca.pub"), (await jctl("auth", "export", "--type=user")).stdout);
  // Another cluster's host CA: an OpenSSH CA key nobody here trusts.
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "other cluster host CA", "-f", join(work, "other_ca")]);
});
after(async () => {
  for (const s of sshds) await s.stop();
  await d?.stop();
  cleanup(d?.dataDir ?? "", work, u?.home ?? "");
});

/** An sshd trusting the cluster's user CA, with the host key (and certificate) the test gives it, registered as node `name`. */
async function impostor(name: string, host: { key: string; cert?: string }, subKind: "" | "openssh"): Promise<void> {
  const sshd = await startSshd(join(work, name), [
    `HostKey ${host.key}`,
    ...(host.cert ? [`HostCertificate ${host.cert}`] : []),
    `TrustedUserCAKeys ${join(work, "user_ca.pub")}`,
    "AuthorizedKeysFile none",
    "PasswordAuthentication no",
    "PermitRootLogin prohibit-password",
  ]);
  sshds.push(sshd);
  writeFileSync(
    join(work, `${name}.yaml`),
    `kind: node
version: v2
${subKind ? `sub_kind: ${subKind}\n` : ""}metadata:
  name: ${name}
  labels: {env: impostor}
spec:
  addr: 127.0.0.1:${sshd.port}
  hostname: ${name}
`,
  );
  const created = await jctl("create", "-f", join(work, `${name}.yaml`));
  assert.equal(created.code, 0, created.stderr);
  // The proxy learns of new nodes through its watch: wait until it routes this one.
  await eventually(async () => !/not found/.test((await u.jsh(["ssh", `root@${name}`, "true"])).stderr), 10_000, `the proxy routing to ${name}`);
}

function dir(name: string): string {
  const p = join(work, name);
  mkdirSync(p, { recursive: true });
  return p;
}

/** A host key signed by the other cluster's CA for `principals`. */
function foreignHostKey(name: string, principals: string): { key: string; cert: string } {
  const key = join(dir(name), "host");
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", key]);
  execFileSync("ssh-keygen", ["-q", "-s", join(work, "other_ca"), "-h", "-I", name, "-n", principals, "-V", "-1m:+1h", `${key}.pub`]);
  return { key, cert: `${key}-cert.pub` };
}

function refusedWith(r: { code: number; stdout: string; stderr: string }, re: RegExp): void {
  assert.equal(r.code, 255, `exit ${r.code}; stderr:\n${r.stderr}`);
  assert.equal(r.stdout, "", "nothing ran on the impostor");
  const lines = r.stderr
    .trim()
    .split("\n")
    .filter((l) => l.trim());
  assert.equal(lines.length, 1, `one line, got:\n${r.stderr}`);
  assert.match(lines[0] ?? "", re);
}

test("a node whose host certificate comes from another cluster's CA is refused", async () => {
  await impostor("rogue", foreignHostKey("rogue", "rogue,rogue.test.local"), "");
  const r = await u.jsh(["ssh", "root@rogue", "echo should-not-run"]);
  refusedWith(r, /^ERROR: host key verification failed for rogue: the node's host certificate is not signed by this cluster's host CA$/);
});

test("a node with a plain host key (no certificate) is refused", async () => {
  const key = join(dir("plain"), "host");
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", key]);
  await impostor("plain", { key }, "");
  const r = await u.jsh(["ssh", "root@plain", "echo should-not-run"]);
  refusedWith(r, /^ERROR: host key verification failed for plain: the node presented a plain host key/);
});

test("a cluster host certificate issued for another node is refused", async () => {
  const out = join(dir("imposter"), "host");
  const sign = await jctl("auth", "sign", "--host=db-7", "--format=openssh", `--out=${out}`);
  assert.equal(sign.code, 0, sign.stderr);
  await impostor("imposter", { key: out, cert: `${out}-cert.pub` }, "");
  const r = await u.jsh(["ssh", "root@imposter", "echo should-not-run"]);
  refusedWith(r, /^ERROR: host key verification failed for imposter: the node's host certificate is for "db-7", .*, not "imposter"$/);
});

test("an agentless OpenSSH node with another cluster's host certificate is refused by the proxy, and jsh says why", async () => {
  await impostor("legacy-rogue", foreignHostKey("legacy-rogue", "legacy-rogue"), "openssh");
  const r = await u.jsh(["ssh", "root@legacy-rogue", "echo should-not-run"]);
  refusedWith(r, /^ERROR: .*legacy-rogue: host key verification failed: the node's host certificate is not signed by this cluster's host CA$/);
});

test("the same agentless node with this cluster's certificate is reached", async () => {
  const out = join(dir("legacy-ok"), "host");
  assert.equal((await jctl("auth", "sign", "--host=legacy-ok", "--format=openssh", `--out=${out}`)).code, 0);
  await impostor("legacy-ok", { key: out, cert: `${out}-cert.pub` }, "openssh");
  const r = await u.jsh(["ssh", "root@legacy-ok", "echo verified-$((20+22))"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), "verified-42");
});
