/**
 * Database access acceptance for PostgreSQL (issue 5), on one daemon and one
 * Database Service: `jsh db connect` running psql with a command, every query
 * (simple and extended/prepared) audited with its session id and the session
 * end, a database registered with `jctl create -f db.yaml` whose query audit
 * is off, and each RBAC refusal (db user, db name, deny rule, a certificate
 * for another database) printed by the client and audited. The expired
 * certificate is in db-postgres.e2e.test.ts (it waits for real expiry once).
 */
import assert from "node:assert/strict";
import { copyFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import pg from "pg";
import { type Agent, cleanup, type Daemon, run, startAgent, startDaemon, tempDir } from "../harness/cluster.ts";
import { type AuditEvent, auditEvents, auditedEvent, type BackgroundProxyDb, startJshProxyDb } from "../harness/dbaccess.ts";
import { createThrowawayDatabase, type ThrowawayDatabase } from "../harness/postgres.ts";
import { eventually, type LoggedIn, userLoggedIn } from "../harness/users.ts";

let d: Daemon;
let agent: Agent | undefined;
let db: ThrowawayDatabase;
let alice: LoggedIn;
let work: string;
let agentDir: string;
let pgUser: string;
let tunnel: BackgroundProxyDb | undefined;
const tag = `t${process.pid}${Date.now().toString(36)}`;

const jctl = (...args: string[]) => run("jctl", ["--data-dir", d.dataDir, ...args]);

async function createFrom(name: string, yaml: string, force = false): Promise<void> {
  const file = join(work, name);
  writeFileSync(file, yaml);
  const r = await jctl("create", ...(force ? ["--force"] : []), "-f", file);
  assert.equal(r.code, 0, r.stderr);
}

function psql(conn: string, sql: string) {
  return run("psql", ["-X", "-At", "-v", "ON_ERROR_STOP=1", conn, "-c", sql], { timeoutMs: 30_000, env: { PGCONNECT_TIMEOUT: "10" } });
}

const viaTunnel = (port: number, o: { user?: string; dbname?: string } = {}) =>
  `host=127.0.0.1 port=${port} user=${o.user ?? pgUser} dbname=${o.dbname ?? db.name} sslmode=disable`;

const extraRole = (spec: string) => `kind: role
version: v7
metadata: {name: db-extra}
spec:
${spec}
`;

before(async () => {
  work = tempDir("db-rbac");
  agentDir = tempDir("db-rbac-agent");
  db = await createThrowawayDatabase();
  const url = new URL(db.connString);
  pgUser = decodeURIComponent(url.username);
  const passwordFile = join(work, "pg-password");
  writeFileSync(passwordFile, `${decodeURIComponent(url.password)}\n`, { mode: 0o600 });
  const agentConfig = join(work, "db-agent.yaml");
  writeFileSync(
    agentConfig,
    `version: v3
jumpgate:
  nodename: db-rbac-agent
db_service:
  enabled: yes
  databases:
    - name: pg
      protocol: postgres
      uri: 127.0.0.1:5432
      static_labels: {env: dev, team: payments}
      credentials: {username: ${pgUser}, password_file: ${passwordFile}}
  resources:
    - labels: {env: dev}
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
    db_users: ["${pgUser}"]
    db_names: ["${db.name}", "jumpgate_not_there"]
`,
  );
  await createFrom("extra.yaml", extraRole("  allow: {}"));
  // Registered dynamically, before the service starts so its first look finds it (it looks every 15 s).
  await createFrom(
    "db.yaml",
    `kind: db
version: v3
metadata:
  name: pg-quiet
  description: no query audit
  labels: {env: dev}
spec:
  protocol: postgres
  uri: 127.0.0.1:5432
  audit_queries: false
  auth: {type: password, user: ${pgUser}, password_file: ${passwordFile}}
`,
  );
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
  await eventually(
    async () => {
      const out = (await alice.jsh(["db", "ls"])).stdout;
      return out.includes("pg ") && out.includes("pg-quiet");
    },
    30_000,
    "pg and pg-quiet in jsh db ls",
  );
  // Two database names are allowed, so the certificate leaves the name to the client (checked when it connects).
  const login = await alice.jsh(["db", "login", "pg", `--db-user=${pgUser}`]);
  assert.equal(login.code, 0, login.stderr);
  tunnel = await startJshProxyDb(alice, "pg");
});

after(async () => {
  await tunnel?.stop();
  await agent?.stop();
  await d?.stop();
  await db?.drop();
  cleanup(work, agentDir, ...(d ? [d.dataDir] : []), ...(alice ? [alice.home] : []));
});

test("jsh db connect pg --db-user --db-name -- -c 'select 1' runs psql with the command; psql also reads stdin", async () => {
  const withArgs = await alice.jsh(["db", "connect", "pg", `--db-user=${pgUser}`, `--db-name=${db.name}`, "--", "-X", "-At", "-c", "select 1"]);
  assert.equal(withArgs.code, 0, withArgs.stderr);
  assert.equal(withArgs.stdout.trim(), "1");
  const withStdin = await alice.jsh(["db", "connect", "pg", `--db-user=${pgUser}`, `--db-name=${db.name}`], { input: "select 40 + 2 as answer;\n" });
  assert.equal(withStdin.code, 0, withStdin.stderr);
  assert.match(withStdin.stdout, /answer\s*\n-+\s*\n\s*42\s*\n\(1 row\)/);
});

test("the audit log holds simple and extended/prepared queries with the session id, and db.session.end", async () => {
  const simple = await psql(viaTunnel(tunnel?.port ?? 0), `select 'simple-${tag}'`);
  assert.equal(simple.code, 0, simple.stderr);
  assert.equal(simple.stdout.trim(), `simple-${tag}`);

  const c = new pg.Client({ host: "127.0.0.1", port: tunnel?.port ?? 0, user: pgUser, database: db.name, ssl: false });
  await c.connect();
  try {
    const prepared = await c.query({ name: "jg_prepared", text: "select $1::text as v", values: [`param-${tag}`] });
    assert.equal(prepared.rows[0]?.v, `param-${tag}`);
    const unnamed = await c.query("select $1::int + 1 as n", [41]);
    assert.equal(unnamed.rows[0]?.n, 42);
  } finally {
    await c.end();
  }

  const q1 = await auditedEvent(d, ["db.session.query"], (e) => String(e.db_query).includes(`simple-${tag}`), "the simple query in the audit log");
  assert.equal(q1.db_service, "pg");
  assert.equal(q1.user, "alice");
  assert.equal(q1.db_user, pgUser);
  assert.equal(q1.db_name, db.name);
  assert.match(String(q1.sid), /^[0-9a-f-]{36}$/);
  const q2 = await auditedEvent(
    d,
    ["db.session.query"],
    (e) => e.db_query === "select $1::text as v" && JSON.stringify(e.db_query_parameters) === JSON.stringify([`param-${tag}`]),
    "the prepared statement with its parameter in the audit log",
  );
  assert.notEqual(q2.sid, q1.sid);
  const q3 = await auditedEvent(
    d,
    ["db.session.query"],
    (e) => e.sid === q2.sid && e.db_query === "select $1::int + 1 as n",
    "the unnamed extended query in the audit log",
  );
  assert.deepEqual(q3.db_query_parameters, ["41"]);
  for (const sid of [q1.sid, q2.sid]) {
    await auditedEvent(d, ["db.session.end"], (e) => e.sid === sid, `db.session.end for ${sid}`);
    const starts = (await auditEvents(d, "db.session.start")).filter((e) => e.sid === sid);
    assert.equal(starts.length, 1);
    assert.equal(starts[0]?.success, true);
  }
});

test("a database registered with jctl create and audit_queries: false audits the session but no queries", async () => {
  const r = await alice.jsh(["db", "connect", "pg-quiet", `--db-user=${pgUser}`, `--db-name=${db.name}`, "--", "-X", "-At", "-c", `select 'quiet-${tag}'`]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), `quiet-${tag}`);
  const start = await auditedEvent(d, ["db.session.start"], (e) => e.db_service === "pg-quiet" && e.success === true, "db.session.start for pg-quiet");
  // The end is queued after any query event of the session: once it is stored, a query event would be too.
  await auditedEvent(d, ["db.session.end"], (e) => e.sid === start.sid, "db.session.end for pg-quiet");
  const queries = (await auditEvents(d, "db.session.query")).filter((e) => e.sid === start.sid || String(e.db_query).includes(`quiet-${tag}`));
  assert.deepEqual(queries, []);
});

/** A refusal the client printed, and its audit event. */
async function refusedAndAudited(types: string[], pick: (e: AuditEvent) => boolean, what: string): Promise<AuditEvent> {
  const e = await auditedEvent(d, types, (x) => x.success === false && pick(x), `the refusal (${what}) in the audit log`);
  return e;
}

test("a database user outside the role: jsh db connect is refused with the reason, audited", async () => {
  const r = await alice.jsh(["db", "connect", "pg", "--db-user=mallory", `--db-name=${db.name}`, "--", "-c", "select 1"]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /ERROR: access to database "pg" as database user "mallory" and database name "[^"]+" denied: no role allows database user "mallory"/);
  await refusedAndAudited(["auth"], (e) => /database user "mallory"/.test(String(e.error)), "db user at login");
  // With a certificate for another database user, the Database Service refuses what psql asks for.
  const p = await psql(viaTunnel(tunnel?.port ?? 0, { user: "mallory" }), "select 1");
  assert.notEqual(p.code, 0);
  assert.match(p.stderr, /FATAL: .*access to db denied: this certificate is for database user "[^"]+", not "mallory"/);
  await refusedAndAudited(["db.session.start"], (e) => e.db_user === "mallory" && e.db_service === "pg", "db user at the service");
});

test("a database name outside the role: refused at login and at the Database Service, with the reason, audited", async () => {
  const r = await alice.jsh(["db", "login", "pg", `--db-user=${pgUser}`, "--db-name=postgres"]);
  assert.notEqual(r.code, 0);
  assert.match(
    r.stderr,
    /ERROR: access to database "pg" as database user "[^"]+" and database name "postgres" denied: no role allows database name "postgres"/,
  );
  await refusedAndAudited(["auth"], (e) => /database name "postgres"/.test(String(e.error)), "db name at login");
  const p = await psql(viaTunnel(tunnel?.port ?? 0, { dbname: "postgres" }), "select 1");
  assert.notEqual(p.code, 0);
  assert.match(p.stderr, /FATAL: .*access to db denied: no role allows database name "postgres"/);
  await refusedAndAudited(["db.session.start"], (e) => e.db_name === "postgres" && e.db_service === "pg", "db name at the service");
});

test("a deny rule matching the database's labels: refused with the reason (roles are read at connect time), audited", async () => {
  await createFrom("extra-deny.yaml", extraRole("  deny:\n    db_labels: {team: payments}"), true);
  try {
    const p = await psql(viaTunnel(tunnel?.port ?? 0), "select 1");
    assert.notEqual(p.code, 0);
    assert.match(p.stderr, /FATAL: .*access to db denied: denied by role "db-extra"/);
    await refusedAndAudited(
      ["db.session.start"],
      (e) => e.db_service === "pg" && /denied by role "db-extra"/.test(String(e.error)),
      "deny rule at the service",
    );
  } finally {
    await createFrom("extra-allow.yaml", extraRole("  allow: {}"), true);
  }
  const ok = await psql(viaTunnel(tunnel?.port ?? 0), "select 1");
  assert.equal(ok.code, 0, ok.stderr);
});

test("a certificate for another database is refused with the reason, not rerouted, and audited", async () => {
  // Log in to pg, then make `jsh proxy db pg-quiet` use pg's certificate.
  const cfg = await alice.jsh(["db", "config", "pg", "--format=json"]);
  assert.equal(cfg.code, 0, cfg.stderr);
  const paths = JSON.parse(cfg.stdout) as { cert: string; key: string };
  copyFileSync(paths.cert, paths.cert.replace(/pg\.crt$/, "pg-quiet.crt"));
  copyFileSync(paths.key, paths.key.replace(/pg\.key$/, "pg-quiet.key"));
  const wrong = await startJshProxyDb(alice, "pg-quiet");
  try {
    const p = await psql(viaTunnel(wrong.port), "select 1");
    assert.notEqual(p.code, 0);
    assert.match(p.stderr, /FATAL: .*this certificate is for database pg, not pg-quiet: run jsh db login pg-quiet/);
    await refusedAndAudited(
      ["db.session.start"],
      (e) => e.db_service === "pg-quiet" && /certificate is for database pg/.test(String(e.error)),
      "a certificate for another database",
    );
  } finally {
    await wrong.stop();
    await alice.jsh(["db", "logout", "pg-quiet"]);
  }
});
