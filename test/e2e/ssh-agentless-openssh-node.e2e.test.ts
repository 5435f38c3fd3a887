import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { cleanup, type Daemon, run, startDaemon, tempDir } from "../harness/cluster.ts";
import { type Sshd, startSshd } from "../harness/sshd.ts";
import { type LoggedIn, userLoggedIn } from "../harness/users.ts";

let d: Daemon;
let sshd: Sshd | undefined;
let u: LoggedIn;
const work = tempDir("agentless");
const jctl = (...a: string[]) => run("jctl", ["--data-dir", d.dataDir, ...a]);

before(async () => {
  d = await startDaemon({ extraArgs: ["--roles", "auth,proxy"] });
  u = await userLoggedIn(d, "ops", "access", "root");
});
after(async () => {
  await sshd?.stop();
  await d?.stop();
  cleanup(d?.dataDir ?? "", work, u?.home ?? "");
});

test("a stock sshd trusting the user CA, registered as an openssh node, is reachable through the proxy", async () => {
  writeFileSync(join(work, "user_ca.pub"), (await jctl("auth", "export", "--type=user")).stdout);
  const sign = await jctl("auth", "sign", "--host=legacy-db", "--format=openssh", `--out=${join(work, "host")}`);
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
    `kind: node
version: v2
sub_kind: openssh
metadata:
  name: legacy-db
  labels: {env: legacy}
spec:
  addr: 127.0.0.1:${sshd.port}
  hostname: legacy-db
`,
  );
  const created = await jctl("create", "-f", join(work, "node.yaml"));
  assert.equal(created.code, 0, created.stderr);

  const ls = await u.jsh(["ls", "env=legacy"]);
  assert.match(ls.stdout, new RegExp(`legacy-db\\s+127\\.0\\.0\\.1:${sshd.port}\\s+env=legacy`));
  const viaJsh = await u.jsh(["ssh", "root@legacy-db", "echo agentless-$((1+1))"]);
  assert.equal(viaJsh.code, 0, viaJsh.stderr);
  assert.equal(viaJsh.stdout.trim(), "agentless-2");

  writeFileSync(join(work, "ssh_config"), (await u.jsh(["config"])).stdout);
  const plain = await run("ssh", ["-F", join(work, "ssh_config"), "-o", "BatchMode=yes", "root@legacy-db.test.local", "hostname >/dev/null && echo plain-ssh"]);
  assert.equal(plain.code, 0, plain.stderr);
  assert.equal(plain.stdout.trim(), "plain-ssh");
});

test("on an OpenSSH node every login in the certificate must be allowed there, since sshd accepts them all", async () => {
  writeFileSync(
    join(work, "split-roles.yaml"),
    `kind: role
version: v7
metadata: {name: prod-root}
spec:
  allow: {logins: [root], node_labels: {env: prod}}
---
kind: role
version: v7
metadata: {name: legacy-daemon}
spec:
  allow: {logins: [daemon], node_labels: {env: legacy}}
`,
  );
  assert.equal((await jctl("create", "-f", join(work, "split-roles.yaml"))).code, 0);
  const split = await userLoggedIn(d, "split", "prod-root,legacy-daemon", "");
  const r = await split.jsh(["ssh", "root@legacy-db", "id -un"]);
  assert.notEqual(r.code, 0, "root is allowed only on env=prod nodes");
  assert.match(r.stderr, /OpenSSH node.*\(root\)/);
  cleanup(split.home);
});
