/**
 * Database access acceptance for MySQL against the local MariaDB (issue 5), on
 * one daemon and one Database Service that logs in with a password from a
 * file: `jsh db connect` running mysql with a command and from stdin, mysql
 * through `jsh proxy db --tunnel` with no certificate options, plain and
 * prepared (`mysql2` execute) statements audited with the session id and the
 * session end, and the db-user and deny-rule refusals printed by mysql and
 * audited.
 */
import assert from "node:assert/strict";
import { copyFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import mysql from "mysql2/promise";
import { type Agent, cleanup, type Daemon, run, startAgent, startDaemon, tempDir } from "../harness/cluster.ts";
import { auditEvents, auditedEvent, type BackgroundProxyDb, startJshProxyDb } from "../harness/dbaccess.ts";
import { createThrowawayMariadb, type ThrowawayMariadb } from "../harness/mariadb.ts";
import { eventually, type LoggedIn, userLoggedIn } from "../harness/users.ts";

let d: Daemon;
let agent: Agent | undefined;
let m: ThrowawayMariadb;
let alice: LoggedIn;
let work: string;
let agentDir: string;
let tunnel: BackgroundProxyDb | undefined;
const tag = `t${process.pid}${Date.now().toString(36)}`;

const jctl = (...args: string[]) => run("jctl", ["--data-dir", d.dataDir, ...args]);

async function createFrom(name: string, yaml: string, force = false): Promise<void> {
  const file = join(work, name);
  writeFileSync(file, yaml);
  const r = await jctl("create", ...(force ? ["--force"] : []), "-f", file);
  assert.equal(r.code, 0, r.stderr);
}

/** The mysql client at the local tunnel: no certificate or password options. */
function mysqlViaTunnel(sql: string, user = m.user, o: { port?: number; database?: string } = {}) {
  const port = o.port ?? tunnel?.port ?? 0;
  return run("mysql", ["--no-defaults", "-h", "127.0.0.1", "-P", String(port), "--protocol=TCP", "-u", user, "-N", "-B", o.database ?? m.name, "-e", sql], {
    timeoutMs: 30_000,
  });
}

const extraRole = (spec: string) => `kind: role
version: v7
metadata: {name: db-extra}
spec:
${spec}
`;

before(async () => {
  work = tempDir("db-mysql");
  agentDir = tempDir("db-mysql-agent");
  m = await createThrowawayMariadb();
  const passwordFile = join(work, "maria-password");
  writeFileSync(passwordFile, `${m.password}\n`, { mode: 0o600 });
  const agentConfig = join(work, "db-agent.yaml");
  writeFileSync(
    agentConfig,
    `version: v3
jumpgate:
  nodename: db-mysql-agent
db_service:
  enabled: yes
  databases:
    - name: maria
      protocol: mysql
      uri: 127.0.0.1:3306
      static_labels: {env: dev}
      credentials: {username: ${m.user}, password_file: ${passwordFile}}
    - name: maria2
      protocol: mysql
      uri: 127.0.0.1:3306
      static_labels: {env: dev}
      credentials: {username: ${m.user}, password_file: ${passwordFile}}
`,
  );
  d = await startDaemon();
  await createFrom(
    "role.yaml",
    `kind: role
version: v7
metadata: {name: db-dev}
spec:
  allow:
    db_labels: {env: dev}
    db_users: ["${m.user}"]
    db_names: ["${m.name}"]
`,
  );
  await createFrom("extra.yaml", extraRole("  allow: {}"));
  const tok = await jctl("tokens", "add", "--type=db", "--ttl=10m", "--format=json");
  assert.equal(tok.code, 0, tok.stderr);
  agent = await startAgent({
    proxyAddr: d.proxyAddr,
    dataDir: agentDir,
    config: agentConfig,
    extraArgs: ["--roles=db"],
    token: JSON.parse(tok.stdout).token as string,
  });
  alice = await userLoggedIn(d, "alice", "db-dev,db-extra", "alice");
  await eventually(async () => (await alice.jsh(["db", "ls"])).stdout.includes("maria2"), 30_000, "maria and maria2 in jsh db ls");
});

after(async () => {
  await tunnel?.stop();
  await agent?.stop();
  await d?.stop();
  await m?.drop();
  cleanup(work, agentDir, ...(d ? [d.dataDir] : []), ...(alice ? [alice.home] : []));
});

test("jsh db connect maria --db-user --db-name -- -e 'select 1' runs mysql with the command; mysql also reads stdin", async () => {
  const withArgs = await alice.jsh(["db", "connect", "maria", `--db-user=${m.user}`, `--db-name=${m.name}`, "--", "-N", "-B", "-e", "select 1"]);
  assert.equal(withArgs.code, 0, withArgs.stderr);
  assert.equal(withArgs.stdout.trim(), "1");
  const withStdin = await alice.jsh(["db", "connect", "maria", `--db-user=${m.user}`, `--db-name=${m.name}`], {
    input: "select 40 + 2 as answer, database() as db;\n",
  });
  assert.equal(withStdin.code, 0, withStdin.stderr);
  assert.equal(withStdin.stdout.trim(), `answer\tdb\n42\t${m.name}`);
});

test("mysql through jsh proxy db --tunnel works with no certificate options", async () => {
  tunnel = await startJshProxyDb(alice, "maria");
  assert.match(tunnel.output(), new RegExp(`mysql -h 127\\.0\\.0\\.1 -P ${tunnel.port} --protocol=TCP -u ${m.user}`));
  const r = await mysqlViaTunnel(`select 'tunnel-${tag}'`);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), `tunnel-${tag}`);
});

test("the audit log holds plain and prepared statements with the session id, and db.session.end", async () => {
  const c = await mysql.createConnection({ host: "127.0.0.1", port: tunnel?.port ?? 0, user: m.user, database: m.name });
  try {
    const [plain] = await c.query(`select 'plain-${tag}' as v`);
    assert.equal((plain as { v: string }[])[0]?.v, `plain-${tag}`);
    const [prepared] = await c.execute("select ? as v, ? + 1 as n", [`param-${tag}`, 41]);
    assert.equal((prepared as { v: string }[])[0]?.v, `param-${tag}`);
  } finally {
    await c.end();
  }
  const plain = await auditedEvent(d, ["db.session.query"], (e) => String(e.db_query).includes(`plain-${tag}`), "the plain query in the audit log");
  assert.equal(plain.db_service, "maria");
  assert.equal(plain.user, "alice");
  assert.equal(plain.db_user, m.user);
  assert.match(String(plain.sid), /^[0-9a-f-]{36}$/);
  const prepared = await auditedEvent(
    d,
    ["db.session.query"],
    (e) => e.sid === plain.sid && e.db_query === "select ? as v, ? + 1 as n" && Array.isArray(e.db_query_parameters),
    "the executed prepared statement with its parameters in the audit log",
  );
  assert.deepEqual(prepared.db_query_parameters, [`param-${tag}`, "41"]);
  await auditedEvent(d, ["db.session.end"], (e) => e.sid === plain.sid, "db.session.end for the session");
  const start = (await auditEvents(d, "db.session.start")).filter((e) => e.sid === plain.sid);
  assert.equal(start.length, 1);
  assert.equal(start[0]?.success, true);
});

test("a database user outside the role: refused at login and at the Database Service with the reason mysql prints, audited", async () => {
  const r = await alice.jsh(["db", "connect", "maria", "--db-user=mallory", `--db-name=${m.name}`, "--", "-e", "select 1"]);
  assert.notEqual(r.code, 0);
  assert.match(
    r.stderr,
    /ERROR: access to database "maria" as database user "mallory" and database name "[^"]+" denied: no role allows database user "mallory"/,
  );
  await auditedEvent(d, ["auth"], (e) => e.success === false && /database user "mallory"/.test(String(e.error)), "the refusal at login in the audit log");
  const p = await mysqlViaTunnel("select 1", "mallory");
  assert.notEqual(p.code, 0);
  assert.match(p.stderr, /ERROR 1045 \(28000\).*access to db denied: this certificate is for database user "[^"]+", not "mallory"/);
  await auditedEvent(
    d,
    ["db.session.start"],
    (e) => e.success === false && e.db_user === "mallory" && e.db_service === "maria",
    "the refusal at the service in the audit log",
  );
});

test("a deny rule matching the database's labels: mysql prints the reason, audited", async () => {
  await createFrom("extra-deny.yaml", extraRole("  deny:\n    db_labels: {env: dev}"), true);
  try {
    const p = await mysqlViaTunnel("select 1");
    assert.notEqual(p.code, 0);
    assert.match(p.stderr, /ERROR 1045 \(28000\).*access to db denied: denied by role "db-extra"/);
    await auditedEvent(
      d,
      ["db.session.start"],
      (e) => e.success === false && e.db_service === "maria" && /denied by role "db-extra"/.test(String(e.error)),
      "the deny refusal in the audit log",
    );
  } finally {
    await createFrom("extra-allow.yaml", extraRole("  allow: {}"), true);
  }
  const ok = await mysqlViaTunnel("select 1");
  assert.equal(ok.code, 0, ok.stderr);
});

test("a database name outside the role: refused at login and at the Database Service with the reason mysql prints, audited", async () => {
  const r = await alice.jsh(["db", "login", "maria", `--db-user=${m.user}`, "--db-name=mysql"]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /ERROR: access to database "maria" as database user "[^"]+" and database name "mysql" denied: no role allows database name "mysql"/);
  await auditedEvent(d, ["auth"], (e) => e.success === false && /database name "mysql"/.test(String(e.error)), "the refusal at login in the audit log");
  const p = await mysqlViaTunnel("select 1", m.user, { database: "mysql" });
  assert.notEqual(p.code, 0);
  assert.match(p.stderr, /ERROR 1045 \(28000\).*access to db denied: this certificate is for database "[^"]+", not "mysql"/);
  await auditedEvent(
    d,
    ["db.session.start"],
    (e) => e.success === false && e.db_name === "mysql" && e.db_service === "maria",
    "the refusal at the service in the audit log",
  );
});

test("a certificate for another database is refused with the reason mysql prints, not rerouted, and audited", async () => {
  const cfg = await alice.jsh(["db", "config", "maria", "--format=json"]);
  assert.equal(cfg.code, 0, cfg.stderr);
  const paths = JSON.parse(cfg.stdout) as { cert: string; key: string };
  copyFileSync(paths.cert, paths.cert.replace(/maria\.crt$/, "maria2.crt"));
  copyFileSync(paths.key, paths.key.replace(/maria\.key$/, "maria2.key"));
  const wrong = await startJshProxyDb(alice, "maria2");
  try {
    const p = await mysqlViaTunnel("select 1", m.user, { port: wrong.port });
    assert.notEqual(p.code, 0);
    assert.match(p.stderr, /ERROR 1045 \(28000\).*this certificate is for database maria, not maria2: run jsh db login maria2/);
    await auditedEvent(
      d,
      ["db.session.start"],
      (e) => e.success === false && e.db_service === "maria2" && /certificate is for database maria,/.test(String(e.error)),
      "the refusal in the audit log",
    );
  } finally {
    await wrong.stop();
    await alice.jsh(["db", "logout", "maria2"]);
  }
});
