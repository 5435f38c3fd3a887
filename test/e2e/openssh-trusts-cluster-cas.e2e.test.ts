import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { totpCode } from "../../src/lib/auth/index.ts";
import { cleanup, type Daemon, run, startDaemon, tempDir } from "../harness/cluster.ts";
import { type Sshd, startSshd } from "../harness/sshd.ts";
import { webJson } from "../harness/web.ts";

const PASSWORD = "opensesame-but-longer";

let d: Daemon;
let sshd: Sshd | undefined;
let home: string;
let work: string;
const jctl = (...args: string[]) => run("jctl", ["--data-dir", d.dataDir, ...args]);

before(async () => {
  d = await startDaemon();
  home = tempDir("jsh");
  work = tempDir("sshd");
});
after(async () => {
  await sshd?.stop();
  await d?.stop();
  cleanup(d?.dataDir ?? "", home, work);
});

test("a stock sshd trusts jsh login's certificate and ssh trusts jctl's host certificate", async () => {
  const add = await jctl("users", "add", "olga", "--roles=access", "--logins=root");
  const token = /\/web\/invite\/([0-9a-f]+)/.exec(add.stdout)?.[1] ?? "";
  const inv = await webJson(d.proxyAddr, "GET", `/webapi/invites/${token}`);
  const secret = String(inv.body.totp_secret);
  const done = await webJson(d.proxyAddr, "POST", `/webapi/invites/${token}`, {
    password: PASSWORD,
    totp_code: totpCode(secret, new Date()),
  });
  assert.equal(done.status, 200, done.text);
  const login = await run("jsh", ["login", `--proxy=${d.proxyAddr}`, "--user=olga", "--insecure", `--otp=${totpCode(secret, new Date(Date.now() + 30_000))}`], {
    env: { JSH_HOME: home, JSH_PASSWORD: PASSWORD },
  });
  assert.equal(login.code, 0, login.stderr);

  const userCa = await jctl("auth", "export", "--type=user");
  assert.equal(userCa.code, 0, userCa.stderr);
  writeFileSync(join(work, "user_ca.pub"), userCa.stdout);
  const sign = await jctl("auth", "sign", "--host=node1.test.local", "--format=openssh", `--out=${join(work, "host")}`);
  assert.equal(sign.code, 0, sign.stderr);
  const hostCa = await jctl("auth", "export", "--type=host");
  assert.match(hostCa.stdout, /^@cert-authority \*\.test\.local,test\.local ssh-ed25519 /);
  writeFileSync(join(work, "known_hosts"), hostCa.stdout);

  sshd = await startSshd(work, [
    `HostKey ${join(work, "host")}`,
    `HostCertificate ${join(work, "host-cert.pub")}`,
    `TrustedUserCAKeys ${join(work, "user_ca.pub")}`,
    "AuthorizedKeysFile none",
    "PasswordAuthentication no",
    "KbdInteractiveAuthentication no",
    "PermitRootLogin prohibit-password",
  ]);
  const key = join(home, "keys", `127.0.0.1_${d.proxyAddr.split(":")[1]}`, "olga");
  const ssh = (user: string, extra: string[] = []) =>
    run("ssh", [
      "-F",
      "none",
      "-o",
      "BatchMode=yes",
      "-o",
      "IdentitiesOnly=yes",
      "-i",
      key,
      "-o",
      `UserKnownHostsFile=${join(work, "known_hosts")}`,
      "-o",
      "StrictHostKeyChecking=yes",
      "-o",
      "HostKeyAlias=node1.test.local",
      "-p",
      String(sshd?.port),
      ...extra,
      `${user}@127.0.0.1`,
      "echo",
      "jumpgate-ok",
    ]);
  const ok = await ssh("root");
  assert.equal(ok.code, 0, `${ok.stderr}\n${sshd.log()}`);
  assert.equal(ok.stdout.trim(), "jumpgate-ok");
  // The certificate's principals decide: a login the roles do not give is refused by sshd itself.
  const other = await ssh("daemon");
  assert.notEqual(other.code, 0);
  assert.match(sshd.log(), /not a listed principal|Certificate invalid/);
});

test("jctl works from another host with an identity file, through the proxy's port", async () => {
  const out = join(work, "admin-identity");
  const s = await jctl("auth", "sign", "--user=olga", "--format=identity", `--out=${out}`, "--ttl=10m");
  assert.equal(s.code, 0, s.stderr);
  // olga has the access role only: reading the cluster status works, listing users does not.
  const st = await run("jctl", ["-i", out, "--auth-server", d.proxyAddr, "--insecure", "status", "--format=json"]);
  assert.equal(st.code, 0, st.stderr);
  assert.equal(JSON.parse(st.stdout).cluster, "test.local");
  const ls = await run("jctl", ["-i", out, "--auth-server", d.proxyAddr, "--insecure", "users", "ls"]);
  assert.equal(ls.code, 1);
  assert.match(ls.stderr, /^ERROR: access denied: you may not list user/);
});
