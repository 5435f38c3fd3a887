import assert from "node:assert/strict";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { totpCode } from "../../src/lib/auth/index.ts";
import { cleanup, type Daemon, run, startDaemon, tempDir } from "../harness/cluster.ts";
import { webJson } from "../harness/web.ts";

const PASSWORD = "correct horse battery staple";

/** A code for the next time step: the invite already used the current one. */
const nextCode = (secret: string, steps = 1) => totpCode(secret, new Date(Date.now() + steps * 30_000));

describe("cluster core, end to end", () => {
  let d: Daemon;
  let home: string;
  let work: string;
  let jctl: (...args: string[]) => ReturnType<typeof run>;
  let jsh: (args: string[], env?: Record<string, string>) => ReturnType<typeof run>;
  let aliceSecret = "";
  let aliceUsedCode = "";

  before(async () => {
    d = await startDaemon();
    home = tempDir("jsh");
    work = tempDir("work");
    jctl = (...args) => run("jctl", ["--data-dir", d.dataDir, ...args]);
    jsh = (args, env = {}) => run("jsh", args, { env: { JSH_HOME: home, ...env } });
  });
  after(async () => {
    await d?.stop();
    cleanup(d?.dataDir ?? "", home, work);
  });

  async function invite(name: string, roles: string, logins: string): Promise<string> {
    const r = await jctl("users", "add", name, `--roles=${roles}`, `--logins=${logins}`);
    assert.equal(r.code, 0, r.stderr);
    const m = /https:\/\/\S+\/web\/invite\/([0-9a-f]+)/.exec(r.stdout);
    assert.ok(m?.[1], `no invite link in: ${r.stdout}`);
    return m[1];
  }

  async function completeInvite(token: string): Promise<string> {
    const info = await webJson(d.proxyAddr, "GET", `/webapi/invites/${token}`);
    assert.equal(info.status, 200);
    const secret = String(info.body.totp_secret);
    assert.match(secret, /^[A-Z2-7]+$/);
    assert.match(String(info.body.totp_qr_svg), /<svg/);
    const page = await webJson(d.proxyAddr, "GET", `/web/invite/${token}`);
    // The React app when web/dist is built, else the server-rendered page.
    assert.equal(page.status, 200);
    assert.match(page.text, /totp-secret|<div id="root">/);
    const done = await webJson(d.proxyAddr, "POST", `/webapi/invites/${token}`, {
      password: PASSWORD,
      totp_code: totpCode(secret, new Date()),
    });
    assert.equal(done.status, 200, done.text);
    return secret;
  }

  test("invite, login with password and TOTP, status, certificates OpenSSH and OpenSSL accept", async () => {
    const token = await invite("alice", "access", "alice,root");
    aliceSecret = await completeInvite(token);

    const used = await webJson(d.proxyAddr, "POST", `/webapi/invites/${token}`, { password: PASSWORD, totp_code: "000000" });
    assert.equal(used.status, 404);
    assert.match(used.text, /expired or was already used/);

    aliceUsedCode = nextCode(aliceSecret);
    const login = await jsh(["login", `--proxy=${d.proxyAddr}`, "--user=alice", "--insecure", `--otp=${aliceUsedCode}`], { JSH_PASSWORD: PASSWORD });
    assert.equal(login.code, 0, login.stderr);

    const status = await jsh(["status", "--format=json"]);
    assert.equal(status.code, 0, status.stderr);
    const s = JSON.parse(status.stdout);
    assert.deepEqual(s.roles, ["access"]);
    assert.deepEqual([...s.logins].sort(), ["alice", "root"]);
    assert.ok(new Date(s.valid_until).getTime() > Date.now());
    const text = await jsh(["status"]);
    assert.match(text.stdout, /Logged in as:\s+alice/);

    const keys = join(home, "keys", `127.0.0.1_${d.proxyAddr.split(":")[1]}`);
    const l = await run("ssh-keygen", ["-L", "-f", join(keys, "alice-cert.pub")]);
    assert.equal(l.code, 0, l.stderr);
    assert.match(l.stdout, /Type: ssh-ed25519-cert-v01@openssh.com user certificate/);
    const principals = /Principals:\s*\n((?:\s{16,}\S+\n)+)/.exec(l.stdout)?.[1]?.trim().split(/\s+/).sort();
    assert.deepEqual(principals, ["alice", "root"]);
    assert.match(l.stdout, /jumpgate-roles/);
    const valid = /Valid: from (\S+) to (\S+)/.exec(l.stdout);
    assert.ok(valid?.[1] && valid[2]);
    const span = new Date(`${valid[2]}Z`).getTime() - new Date(`${valid[1]}Z`).getTime();
    assert.ok(span <= 12 * 3600_000 + 61_000, `certificate valid for ${span / 3600_000} h`);

    const ca = await jctl("auth", "export", "--type=tls");
    assert.equal(ca.code, 0, ca.stderr);
    writeFileSync(join(work, "user-ca.pem"), ca.stdout);
    const v = await run("openssl", ["verify", "-CAfile", join(work, "user-ca.pem"), join(keys, "alice-x509.pem")]);
    assert.equal(v.code, 0, v.stdout + v.stderr);
    assert.match(v.stdout, /OK/);

    assert.match(readFileSync(join(keys, "alice"), "utf8"), /OPENSSH PRIVATE KEY/);
    for (const f of ["alice", "alice-cert.pub", "alice-x509.key", "alice-x509.pem"]) {
      assert.equal(statSync(join(keys, f)).mode & 0o777, 0o600, f);
    }
    for (const dir of [home, keys]) assert.equal(statSync(dir).mode & 0o777, 0o700, dir);
  });

  test("bad logins are refused with one clear line and audited", async () => {
    const loginAs = (password: string, otp: string) =>
      jsh(["login", `--proxy=${d.proxyAddr}`, "--user=alice", "--insecure", `--otp=${otp}`], { JSH_PASSWORD: password });
    const wrongPw = await loginAs("wrong password!", nextCode(aliceSecret));
    assert.equal(wrongPw.code, 1);
    assert.equal(wrongPw.stderr.trim().split("\n").length, 1);
    assert.match(wrongPw.stderr, /^ERROR: invalid username, password or second factor/);

    const wrongOtp = await loginAs(PASSWORD, "123456");
    assert.equal(wrongOtp.code, 1);
    assert.match(wrongOtp.stderr, /^ERROR: invalid username, password or second factor/);

    // The first test's login used the next step's code: using it again is a reuse.
    const reused = await loginAs(PASSWORD, aliceUsedCode);
    assert.equal(reused.code, 1);
    assert.match(reused.stderr, /already used/);

    const events = await jctl("audit", "events", "--type=user.login", "--format=json");
    assert.equal(events.code, 0, events.stderr);
    const list = JSON.parse(events.stdout) as { success?: boolean; error?: string; user?: string }[];
    assert.ok(list.some((e) => e.success === true && e.user === "alice"));
    assert.ok(list.some((e) => e.success === false && e.error === "invalid password"));
    assert.ok(list.some((e) => e.success === false && e.error === "one-time code already used"));
  });

  test("five failed attempts lock the user out, even with the right password", async () => {
    const token = await invite("mallory", "access", "mallory");
    const secret = await completeInvite(token);
    for (let i = 0; i < 5; i++) {
      const r = await jsh(["login", `--proxy=${d.proxyAddr}`, "--user=mallory", "--insecure", "--otp=000000"], {
        JSH_PASSWORD: "not the password",
      });
      assert.equal(r.code, 1);
    }
    const locked = await jsh(["login", `--proxy=${d.proxyAddr}`, "--user=mallory", "--insecure", `--otp=${nextCode(secret)}`], { JSH_PASSWORD: PASSWORD });
    assert.equal(locked.code, 1);
    assert.match(locked.stderr, /temporarily locked/);
    const ev = await jctl("audit", "events", "--type=user.locked", "--format=json");
    assert.ok((JSON.parse(ev.stdout) as { user?: string }[]).some((e) => e.user === "mallory"));
  });

  test("a Teleport-style role loads with create -f and reads back unchanged in meaning", async () => {
    const role = `kind: role
version: v7
metadata:
  name: dev
  description: developers
  labels:
    team: core
spec:
  options:
    max_session_ttl: 8h0m0s
    forward_agent: true
    port_forwarding: false
  allow:
    logins: ['{{internal.logins}}', ubuntu]
    node_labels:
      env: [staging, dev]
      'region': '^us-(east|west)-[0-9]$'
    rules:
      - resources: [session, event]
        verbs: [list, read]
  deny:
    logins: [root]
    node_labels:
      env: prod
`;
    writeFileSync(join(work, "dev.yaml"), role);
    const c = await jctl("create", "-f", join(work, "dev.yaml"));
    assert.equal(c.code, 0, c.stderr);
    const again = await jctl("create", "-f", join(work, "dev.yaml"));
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already exists/);
    assert.equal((await jctl("create", "-f", join(work, "dev.yaml"), "--force")).code, 0);
    const g = await jctl("get", "role/dev", "--format=json");
    assert.equal(g.code, 0, g.stderr);
    const got = JSON.parse(g.stdout);
    assert.equal(got.metadata.description, "developers");
    assert.deepEqual(got.metadata.labels, { team: "core" });
    assert.deepEqual(got.spec.allow.logins, ["{{internal.logins}}", "ubuntu"]);
    assert.deepEqual(got.spec.allow.node_labels.env, ["staging", "dev"]);
    assert.deepEqual(got.spec.deny.logins, ["root"]);
    assert.deepEqual(got.spec.allow.rules[0].verbs, ["list", "read"]);
    assert.equal(got.spec.options.forward_agent, true);
    assert.equal(got.spec.options.port_forwarding, false);
    const y = await jctl("get", "role/dev");
    assert.match(y.stdout, /kind: role/);
  });

  test("bad resource files get one clear line, exit 1, and write nothing", async () => {
    const before = (await jctl("get", "roles", "--format=json")).stdout;
    const cases: [string, string, RegExp][] = [
      ["malformed.yaml", "kind: role\nmetadata: {name: x\n", /malformed\.yaml:\d+/],
      ["unknown-kind.yaml", "kind: rolez\nversion: v7\nmetadata: {name: x}\n", /unknown kind "rolez"/],
      ["unknown-field.yaml", "kind: role\nversion: v7\nmetadata: {name: x}\nspec: {allow: {loginz: [a]}}\n", /spec\.allow\.loginz/],
      ["mistyped.yaml", "kind: role\nversion: v7\nmetadata: {name: x}\nspec: {allow: {logins: 5}}\n", /spec\.allow\.logins/],
      [
        "second-bad.yaml",
        "kind: role\nversion: v7\nmetadata: {name: good-one}\nspec: {}\n---\nkind: role\nversion: v7\nmetadata: {name: y}\nspec: {deny: {node_labels: 7}}\n",
        /spec\.deny\.node_labels/,
      ],
    ];
    for (const [file, text, re] of cases) {
      writeFileSync(join(work, file), text);
      const r = await jctl("create", "-f", join(work, file));
      assert.equal(r.code, 1, `${file}: ${r.stdout}`);
      assert.match(r.stderr, /^ERROR: /);
      assert.equal(r.stderr.trim().split("\n").length, 1, `${file}: ${r.stderr}`);
      assert.match(r.stderr, re);
    }
    assert.equal((await jctl("get", "roles", "--format=json")).stdout, before);
  });

  test("join tokens: dynamic with TTL, expired ones are refused", async () => {
    const t = await jctl("tokens", "add", "--type=node", "--ttl=1s", "--format=json");
    assert.equal(t.code, 0, t.stderr);
    const { token } = JSON.parse(t.stdout);
    await new Promise((r) => setTimeout(r, 2100));
    const r = await webJson(d.proxyAddr, "POST", "/webapi/host/join", {
      token,
      host_id: "11111111-2222-3333-4444-555555555555",
      node_name: "late",
      role: "node",
      ssh_public_key: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGr0n3k1s6mWq8Qb4Q1Zy0m1u2Yb1oK1Z1Xq2m1u2Yb1 x",
      tls_public_key: "x",
    });
    assert.equal(r.status, 403, r.text);
    assert.match(r.text, /invalid or has expired/);
  });

  test("restart keeps CAs, users, roles and tokens; old certificates still verify", async () => {
    const tok = await jctl("tokens", "add", "--type=node", "--ttl=1h", "--format=json");
    const { token } = JSON.parse(tok.stdout);
    const statusBefore = (await jctl("status", "--format=json")).stdout;
    const port = Number(d.proxyAddr.split(":")[1]);
    const authPort = Number(d.authAddr.split(":")[1]);
    assert.equal(await d.stop(), 0);
    d = await startDaemon({ dataDir: d.dataDir, proxyPort: port, authPort });
    assert.equal((await jctl("status", "--format=json")).stdout, statusBefore);
    const users = await jctl("users", "ls", "--format=json");
    assert.ok((JSON.parse(users.stdout) as { metadata: { name: string } }[]).some((u) => u.metadata.name === "alice"));
    const roles = (JSON.parse((await jctl("get", "roles", "--format=json")).stdout) as { metadata: { name: string } }[]).map((r) => r.metadata.name);
    for (const r of ["access", "editor", "auditor", "dev"]) assert.ok(roles.includes(r), `role ${r} lost`);
    const tokens = await jctl("tokens", "ls", "--format=json");
    assert.ok(tokens.stdout.includes(token));
    const keys = join(home, "keys", `127.0.0.1_${port}`);
    const v = await run("openssl", ["verify", "-CAfile", join(work, "user-ca.pem"), join(keys, "alice-x509.pem")]);
    assert.equal(v.code, 0, v.stdout + v.stderr);
    const status = await jsh(["status", "--format=json"]);
    assert.equal(status.code, 0);

    const out = await jsh(["logout"]);
    assert.equal(out.code, 0, out.stderr);
    const gone = await jsh(["status"]);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /^ERROR: not logged in/);
  });
});
