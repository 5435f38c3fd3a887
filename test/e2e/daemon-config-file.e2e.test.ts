import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { freshKeys } from "../../src/lib/service/identity.ts";
import { cleanup, freePort, run, startDaemon, tempDir } from "../harness/cluster.ts";
import { createThrowawayDatabase } from "../harness/postgres.ts";
import { webJson } from "../harness/web.ts";

test("a config file with PostgreSQL storage, no second factor, a static token and a JSON-lines audit export", async () => {
  const db = await createThrowawayDatabase();
  const dir = tempDir("cfg");
  const [proxy, auth] = [await freePort(), await freePort()];
  const config = join(dir, "jumpgate.yaml");
  writeFileSync(
    config,
    `version: v3
jumpgate:
  nodename: cfg-host
  data_dir: ${join(dir, "data")}
auth_service:
  enabled: yes
  cluster_name: pg.local
  listen_addr: 127.0.0.1:${auth}
  authentication:
    second_factor: off
    lockout: {max_attempts: 3, lockout_duration: 5m}
  storage:
    type: postgres
    conn_string: ${db.connString}
    audit_events_uri: ["${db.connString}", "jsonl://${join(dir, "audit.jsonl")}"]
  tokens: ["node:static-join-token-123"]
proxy_service:
  enabled: yes
  listen_addr: 127.0.0.1:${proxy}
  public_addr: 127.0.0.1:${proxy}
`,
  );
  const home = tempDir("cfg-jsh");
  let d = await startDaemon({ config, dataDir: join(dir, "data"), proxyPort: proxy, authPort: auth });
  try {
    const jctl = (...a: string[]) => run("jctl", ["--data-dir", join(dir, "data"), ...a]);
    const add = await jctl("users", "add", "pat", "--roles=access", "--logins=pat");
    assert.equal(add.code, 0, add.stderr);
    const token = /\/web\/invite\/([0-9a-f]+)/.exec(add.stdout)?.[1] ?? "";
    const inv = await webJson(d.proxyAddr, "GET", `/webapi/invites/${token}`);
    assert.equal(inv.body.second_factor, "off");
    assert.equal(inv.body.totp_secret, "");
    const done = await webJson(d.proxyAddr, "POST", `/webapi/invites/${token}`, { password: "no second factor here" });
    assert.equal(done.status, 200, done.text);
    const login = await run("jsh", ["login", `--proxy=${d.proxyAddr}`, "--user=pat", "--insecure"], {
      env: { JSH_HOME: home, JSH_PASSWORD: "no second factor here" },
    });
    assert.equal(login.code, 0, login.stderr);

    // Restart on the same PostgreSQL database: the cluster (name, CAs, users) lives there.
    const status = (await jctl("status", "--format=json")).stdout;
    await d.stop();
    d = await startDaemon({ config, dataDir: join(dir, "data"), proxyPort: proxy, authPort: auth });
    assert.equal((await jctl("status", "--format=json")).stdout, status);
    assert.equal(JSON.parse(status).cluster, "pg.local");
    const users = await jctl("users", "ls", "--format=json");
    assert.ok(users.stdout.includes('"pat"'));

    // The static token from the file lets a node join through the proxy's web API.
    const keys = freshKeys();
    const join1 = await webJson(d.proxyAddr, "POST", "/webapi/host/join", {
      token: "static-join-token-123",
      host_id: "5e0f2a57-1111-4222-8333-944445555666",
      node_name: "node-a",
      role: "node",
      ssh_public_key: keys.sshPublicKey,
      tls_public_key: keys.tlsPublicKey,
    });
    assert.equal(join1.status, 200, join1.text);
    assert.match(String(join1.body.ssh_cert), /^ssh-ed25519-cert-v01@openssh.com /);

    const events = await jctl("audit", "events", "--type=user.login", "--format=json");
    assert.ok((JSON.parse(events.stdout) as { user: string }[]).some((e) => e.user === "pat"));
    const exported = readFileSync(join(dir, "audit.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    assert.ok(exported.some((e: { event: string; user?: string }) => e.event === "user.login" && e.user === "pat"));
    assert.ok(!readFileSync(join(dir, "audit.jsonl"), "utf8").includes("no second factor here"), "passwords must not reach the audit log");
  } finally {
    await d.stop();
    cleanup(dir, home);
    await db.drop();
  }
});

test("a bad config file is refused with the file, line and field", async () => {
  const dir = tempDir("badcfg");
  const config = join(dir, "jumpgate.yaml");
  writeFileSync(config, "version: v3\nauth_service:\n  enabled: yes\n  listen_addr: nowhere\n");
  const r = await run("jumpgate", ["start", "--config", config]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^ERROR: .*jumpgate\.yaml:4.*auth_service\.listen_addr.*HOST:PORT/);
  const t = await run("jumpgate", ["configure"]);
  assert.equal(t.code, 0);
  writeFileSync(join(dir, "example.yaml"), t.stdout);
  assert.match(t.stdout, /second_factor: otp/);
  cleanup(dir);
});
