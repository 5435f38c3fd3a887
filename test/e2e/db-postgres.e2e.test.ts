/**
 * psql through `jsh proxy db --tunnel`, a Database Service that joined with a
 * token and keeps a reverse tunnel, and the local PostgreSQL (password auth
 * from a file): select 1, a 10 000-row COPY, refusals psql prints, and a
 * Database Service killed mid-query and started again.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { generateKeyPairSync, X509Certificate } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { systemClock } from "../../src/api/clock.ts";
import { createCa, issueClientCertificate } from "../../src/lib/crypto/index.ts";
import { type Agent, BIN_PATH, cleanup, type Daemon, freePort, ROOT, run, startAgent, startDaemon, tempDir } from "../harness/cluster.ts";
import { auditedEvent } from "../harness/dbaccess.ts";
import { createThrowawayDatabase, type ThrowawayDatabase } from "../harness/postgres.ts";
import { eventually, type LoggedIn, userLoggedIn } from "../harness/users.ts";

let d: Daemon;
let agent: Agent | undefined;
let db: ThrowawayDatabase;
let alice: LoggedIn;
let work: string;
let agentConfig: string;
let agentDir: string;
let pgUser: string;
let localPort: number;
let proxyDb: ChildProcess | undefined;
let shortCert: string;
let shortExpires: number;

async function startDbAgent(token?: string): Promise<Agent> {
  return startAgent({ proxyAddr: d.proxyAddr, dataDir: agentDir, config: agentConfig, extraArgs: ["--roles=db"], ...(token ? { token } : {}) });
}

function psql(conn: string, sql: string, timeoutMs = 30_000) {
  return run("psql", ["-X", "-At", "-v", "ON_ERROR_STOP=1", conn, "-c", sql], { timeoutMs, env: { PGCONNECT_TIMEOUT: "10" } });
}

const tunnelConn = () => `host=127.0.0.1 port=${localPort} user=${pgUser} dbname=${db.name} sslmode=disable`;

before(async () => {
  work = tempDir("db-e2e");
  agentDir = tempDir("db-agent");
  db = await createThrowawayDatabase();
  const url = new URL(db.connString);
  pgUser = decodeURIComponent(url.username);
  const passwordFile = join(work, "pg-password");
  writeFileSync(passwordFile, `${decodeURIComponent(url.password)}\n`, { mode: 0o600 });
  agentConfig = join(work, "db-agent.yaml");
  writeFileSync(
    agentConfig,
    `version: v3
jumpgate:
  nodename: db-agent
db_service:
  enabled: yes
  databases:
    - name: pg
      protocol: postgres
      uri: 127.0.0.1:5432
      static_labels: {env: dev}
      credentials: {username: ${pgUser}, password_file: ${passwordFile}}
`,
  );
  d = await startDaemon();
  const roleFile = join(work, "role.yaml");
  writeFileSync(
    roleFile,
    `kind: role
version: v7
metadata: {name: db-dev}
spec:
  allow:
    db_labels: {env: dev}
    db_users: ["${pgUser}"]
    db_names: ["*"]
`,
  );
  const created = await run("jctl", ["--data-dir", d.dataDir, "create", "-f", roleFile]);
  assert.equal(created.code, 0, created.stderr);
  const tok = await run("jctl", ["--data-dir", d.dataDir, "tokens", "add", "--type=db", "--ttl=10m", "--format=json"]);
  assert.equal(tok.code, 0, tok.stderr);
  agent = await startDbAgent(JSON.parse(tok.stdout).token as string);
  alice = await userLoggedIn(d, "alice", "db-dev", "alice");
  shortCert = join(work, "short");
  const signed = await run("jctl", ["--data-dir", d.dataDir, "auth", "sign", "--user=alice", "--ttl=1s", "--format=tls", `--out=${shortCert}`]);
  assert.equal(signed.code, 0, signed.stderr);
  shortExpires = Date.parse(new X509Certificate(readFileSync(`${shortCert}.crt`)).validTo);
  await eventually(async () => (await alice.jsh(["db", "ls"])).stdout.includes("pg"), 30_000, "database pg in jsh db ls");
  const login = await alice.jsh(["db", "login", "pg", `--db-user=${pgUser}`, `--db-name=${db.name}`]);
  assert.equal(login.code, 0, login.stderr);
  localPort = await freePort();
  proxyDb = spawn(process.execPath, [BIN_PATH("jsh"), "proxy", "db", "pg", "--tunnel", "--port", String(localPort)], {
    cwd: ROOT,
    env: { ...process.env, ...alice.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  proxyDb.stdout?.on("data", (b: Buffer) => (out += b.toString()));
  proxyDb.stderr?.on("data", (b: Buffer) => (out += b.toString()));
  await eventually(async () => out.includes(`127.0.0.1:${localPort}`), 20_000, `jsh proxy db to listen (${out})`);
  assert.match(out, /psql "host=127\.0\.0\.1/);
});

after(async () => {
  proxyDb?.kill("SIGTERM");
  await agent?.stop();
  await d?.stop();
  await db?.drop();
  cleanup(work, agentDir, ...(d ? [d.dataDir] : []), ...(alice ? [alice.home] : []));
});

test("psql through jsh proxy db --tunnel runs select 1", async () => {
  const r = await psql(tunnelConn(), "select 1");
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), "1");
});

test("a 10 000-row COPY arrives complete and in order", async () => {
  const r = await psql(tunnelConn(), "COPY (select generate_series(1,10000)) TO STDOUT");
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split("\n");
  assert.equal(lines.length, 10_000);
  assert.ok(lines.every((l, i) => l === String(i + 1)));
});

test("a certificate from another CA is refused with a message psql prints", async () => {
  const ca = await createCa({ commonName: "test.local", organization: "user", clock: systemClock });
  const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const cert = await issueClientCertificate({
    caCert: ca.certPem,
    caKey: ca.privateKey,
    publicKey,
    ttlMs: 3600_000,
    clock: systemClock,
    identity: {
      kind: "user",
      username: "alice",
      roles: ["db-dev"],
      logins: [],
      traits: {},
      kubernetesGroups: [],
      kubernetesUsers: [],
      activeRequests: [],
      expires: new Date(Date.now() + 3600_000),
      systemRoles: [],
      clusterName: "test.local",
      routeToDatabase: { serviceName: "pg", protocol: "postgres", username: pgUser, database: db.name },
    },
  });
  writeFileSync(join(work, "foreign.crt"), cert);
  writeFileSync(join(work, "foreign.key"), privateKey.export({ format: "pem", type: "pkcs8" }).toString(), { mode: 0o600 });
  const [host, port] = d.proxyAddr.split(":");
  const conn = `host=${host} port=${port} sslmode=require sslcert=${join(work, "foreign.crt")} sslkey=${join(work, "foreign.key")} user=${pgUser} dbname=${db.name}`;
  const r = await psql(conn, "select 1");
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /FATAL:.*signed by an unknown authority/);
});

test("a plaintext psql at the proxy port is told to use TLS", async () => {
  const [host, port] = d.proxyAddr.split(":");
  const r = await psql(`host=${host} port=${port} sslmode=disable user=${pgUser} dbname=${db.name}`, "select 1");
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /jsh db connect/);
});

test("killing the Database Service mid-query gives psql a clean error; after a restart psql works again", async () => {
  const long = psql(tunnelConn(), "select pg_sleep(30)", 60_000);
  await new Promise((r) => setTimeout(r, 1_500));
  await agent?.kill9();
  const r = await long;
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /server closed the connection|connection to server|terminated|FATAL|ERROR/i);
  agent = await startDbAgent();
  await eventually(
    async () => (await psql(tunnelConn(), "select 1", 15_000)).stdout.trim() === "1",
    45_000,
    "psql to work after the Database Service restarts",
  );
});

test("an expired certificate is refused with a message psql prints", async () => {
  // Issued in before() with the shortest TTL Auth gives (1 min); wait until it has run out.
  const wait = shortExpires - Date.now() + 1_000;
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  const [host, port] = d.proxyAddr.split(":");
  const r = await psql(
    `host=${host} port=${port} sslmode=require sslcert=${shortCert}.crt sslkey=${shortCert}.key user=${pgUser} dbname=${db.name}`,
    "select 1",
  );
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /FATAL:.*expired/);
  await auditedEvent(
    d,
    ["db.session.start"],
    (e) => e.success === false && /expired/.test(String(e.error)),
    "the expired certificate's refusal in the audit log",
  );
});
