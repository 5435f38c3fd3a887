/**
 * Database access through Jumpgate side by side with the references, on loopback.
 *
 * Starts the local PostgreSQL (127.0.0.1:5432) and MariaDB (127.0.0.1:3306) if
 * they are down, a throwaway database on each, pgbouncer (Debian's package) on
 * a free loopback port, two chains of bare Node TCP relays (one per server)
 * with as many hops as our path, and a demo cluster: a daemon (auth + proxy, one
 * process), a Database Service in its own process that joined with a token and
 * reaches the proxy through a reverse tunnel (password login to both servers),
 * a user logged in with `jsh login`, and `jsh proxy db NAME --tunnel` for each
 * database. Then, in one run, alternating the variants round by round:
 *
 *   pgbench -S -c 8 -j 2 -T S      direct, pgbouncer, bare relays, jsh proxy db --tunnel
 *   pgbench -S -C -c 8 -j 2 -T S   the same four, a new connection per transaction
 *   mysqlslap SELECT 1, 8 clients  direct, bare relays, jsh proxy db --tunnel
 *
 * Our path has three processes between client and server (client → jsh proxy db
 * → proxy → reverse tunnel → Database Service → server), so the relay chain has
 * three relay processes: client → relay → relay → relay → server.
 *
 * Prints medians of TPS, latency, connections/s and CPU per query of every
 * process on the path (from /proc/PID/stat), and the ratios.
 *
 *   node --import tsx bench/db.ts [--seconds 5] [--rounds 3] [--clients 8] [--jobs 2]
 *       [--mysql-queries 20000] [--workloads select,connect,mysql] [--format text|json]
 *
 * Every flag also reads an environment variable (BENCH_SECONDS, BENCH_ROUNDS, ...).
 * Needs Linux /proc, pgbench, mysqlslap and pgbouncer (bench/db.sh installs it).
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { chmodSync, chownSync, readFileSync, writeFileSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { type Agent, BIN_PATH, cleanup, type Daemon, freePort, ROOT, run, startAgent, startDaemon, tempDir } from "../test/harness/cluster.ts";
import { createThrowawayMariadb, MARIADB_HOST, MARIADB_PORT, type ThrowawayMariadb } from "../test/harness/mariadb.ts";
import { createThrowawayDatabase, type ThrowawayDatabase } from "../test/harness/postgres.ts";
import { eventually, type LoggedIn, userLoggedIn } from "../test/harness/users.ts";

const PG_HOST = "127.0.0.1";
const PG_PORT = 5432;
/** Relay processes between client and server on our path: jsh proxy db, the proxy, the Database Service. */
const HOPS = 3;
const GOALS = { vsRelays: 0.9, vsPgbouncer: 0.8, connectVsDirect: 0.8 };

type Workload = "select" | "connect" | "mysql";
type VariantId = "direct" | "pgbouncer" | "relays" | "jumpgate";

interface Options {
  seconds: number;
  warmup: number;
  rounds: number;
  clients: number;
  jobs: number;
  mysqlQueries: number;
  workloads: Workload[];
  format: "text" | "json";
  /** Set everything up, print the ports and pids, and wait for SIGTERM (for profiling by hand). */
  hold: boolean;
}

function options(): Options {
  const { values } = parseArgs({
    options: {
      seconds: { type: "string" },
      warmup: { type: "string" },
      rounds: { type: "string" },
      clients: { type: "string" },
      jobs: { type: "string" },
      "mysql-queries": { type: "string" },
      workloads: { type: "string" },
      format: { type: "string" },
      json: { type: "boolean" },
      hold: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    process.stdout.write(
      "usage: node --import tsx bench/db.ts [--seconds 5] [--warmup 1] [--rounds 3] [--clients 8] [--jobs 2] [--mysql-queries 20000] [--workloads select,connect,mysql] [--format text|json]\n",
    );
    process.exit(0);
  }
  const num = (flag: string | undefined, env: string, def: number, min = 1) => {
    const raw = flag ?? process.env[env];
    if (raw === undefined || raw === "") return def;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min) throw new Error(`bad value ${JSON.stringify(raw)} for ${env}: want an integer >= ${min}`);
    return n;
  };
  const workloads = (values.workloads ?? process.env.BENCH_WORKLOADS ?? "select,connect,mysql").split(",").map((w) => w.trim()) as Workload[];
  for (const w of workloads) if (!["select", "connect", "mysql"].includes(w)) throw new Error(`unknown workload ${w}: want select, connect, mysql`);
  const format = values.json || process.env.BENCH_JSON === "1" ? "json" : (values.format ?? process.env.BENCH_FORMAT ?? "text");
  if (format !== "text" && format !== "json") throw new Error(`--format ${format}: want text or json`);
  return {
    seconds: num(values.seconds, "BENCH_SECONDS", 5),
    warmup: num(values.warmup, "BENCH_WARMUP", 1, 0),
    rounds: num(values.rounds, "BENCH_ROUNDS", 3),
    clients: num(values.clients, "BENCH_CLIENTS", 8),
    jobs: num(values.jobs, "BENCH_JOBS", 2),
    mysqlQueries: num(values["mysql-queries"], "BENCH_MYSQL_QUERIES", 20_000),
    workloads,
    format,
    hold: values.hold ?? false,
  };
}

const log = (msg: string) => process.stderr.write(`bench: ${msg}\n`);

// ---- /proc ----

const CLK_TCK = Number(spawnSync("getconf", ["CLK_TCK"]).stdout?.toString().trim()) || 100;

/** CPU seconds (utime + stime) of a process; with `children`, of its waited-for children too. */
function cpuSeconds(pid: number | undefined, children = false): number {
  if (pid === undefined) return Number.NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const own = Number(f[11]) + Number(f[12]);
    return (children ? own + Number(f[13]) + Number(f[14]) : own) / CLK_TCK;
  } catch {
    return Number.NaN;
  }
}

const median = (xs: number[]) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

// ---- processes ----

function waitForPort(port: number, timeoutMs: number, what: string): Promise<void> {
  return eventually(
    () =>
      new Promise<boolean>((resolve) => {
        const s = net.connect(port, "127.0.0.1");
        s.once("connect", () => {
          s.destroy();
          resolve(true);
        });
        s.once("error", () => resolve(false));
      }),
    timeoutMs,
    what,
  );
}

/** A bare TCP relay in its own Node process: accept, connect onward, pipe both ways, Nagle off (as ours). */
const RELAY = `
const net = require("node:net");
const [listen, host, port] = [Number(process.env.RELAY_LISTEN), process.env.RELAY_HOST, Number(process.env.RELAY_PORT)];
net.createServer({ noDelay: true }, (c) => {
  const s = net.connect({ host, port, noDelay: true });
  c.pipe(s); s.pipe(c);
  c.on("error", () => s.destroy()); s.on("error", () => c.destroy());
  c.on("close", () => s.destroy()); s.on("close", () => c.destroy());
}).listen(listen, "127.0.0.1", () => process.stdout.write("ready\\n"));
`;

interface Chain {
  port: number;
  pids: number[];
  children: ChildProcess[];
}

async function startRelayChain(targetHost: string, targetPort: number): Promise<Chain> {
  const ports: number[] = [];
  for (let i = 0; i < HOPS; i++) ports.push(await freePort());
  const children: ChildProcess[] = [];
  // Last hop first, so each relay's next hop is listening when it starts.
  for (let i = HOPS - 1; i >= 0; i--) {
    const next = i === HOPS - 1 ? { host: targetHost, port: targetPort } : { host: "127.0.0.1", port: ports[i + 1] as number };
    const child = spawn(process.execPath, ["-e", RELAY], {
      env: { ...process.env, RELAY_LISTEN: String(ports[i]), RELAY_HOST: next.host, RELAY_PORT: String(next.port) },
      stdio: ["ignore", "ignore", "inherit"],
    });
    children.push(child);
    await waitForPort(ports[i] as number, 10_000, `relay on ${ports[i]}`);
  }
  return { port: ports[0] as number, pids: children.map((c) => c.pid as number), children };
}

interface Pgbouncer {
  port: number;
  pid: number;
  child: ChildProcess;
}

function pgbouncerBinary(): string {
  for (const p of ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"]) {
    if (spawnSync(p, ["--version"]).status === 0) return p;
  }
  throw new Error("pgbouncer is not installed (bench/db.sh installs Debian's package: apt-get install pgbouncer)");
}

/** pgbouncer (session pooling) on a free loopback port, with a generated ini and userlist. */
async function startPgbouncer(dir: string, user: string, password: string): Promise<Pgbouncer> {
  const port = await freePort();
  const esc = (s: string) => s.replaceAll('"', '""');
  writeFileSync(join(dir, "userlist.txt"), `"${esc(user)}" "${esc(password)}"\n`);
  writeFileSync(
    join(dir, "pgbouncer.ini"),
    [
      "[databases]",
      `* = host=${PG_HOST} port=${PG_PORT}`,
      "[pgbouncer]",
      "listen_addr = 127.0.0.1",
      `listen_port = ${port}`,
      "unix_socket_dir =",
      // With a password the client proves it (md5) and pgbouncer logs in with it; the project's machines trust 127.0.0.1.
      `auth_type = ${password ? "md5" : "trust"}`,
      `auth_file = ${join(dir, "userlist.txt")}`,
      "pool_mode = session",
      "max_client_conn = 1000",
      "default_pool_size = 32",
      "log_connections = 0",
      "log_disconnections = 0",
      "ignore_startup_parameters = extra_float_digits",
      `logfile = ${join(dir, "pgbouncer.log")}`,
      "",
    ].join("\n"),
  );
  const root = typeof process.getuid === "function" && process.getuid() === 0;
  if (root) {
    // pgbouncer refuses to run as root: it drops to postgres (-u), which must read the files.
    const pw = spawnSync("id", ["-u", "postgres"]).stdout.toString().trim();
    const gr = spawnSync("id", ["-g", "postgres"]).stdout.toString().trim();
    for (const f of ["", "userlist.txt", "pgbouncer.ini"]) chownSync(join(dir, f), Number(pw), Number(gr));
    chmodSync(dir, 0o700);
  }
  const child = spawn(pgbouncerBinary(), [...(root ? ["-u", "postgres"] : []), join(dir, "pgbouncer.ini")], { stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  child.stderr?.on("data", (b: Buffer) => (err += b.toString()));
  await waitForPort(port, 10_000, `pgbouncer on ${port} (${err})`);
  return { port, pid: child.pid as number, child };
}

interface Cluster {
  d: Daemon;
  agent: Agent;
  user: LoggedIn;
  work: string;
  pgTunnel: { port: number; child: ChildProcess };
  myTunnel: { port: number; child: ChildProcess } | undefined;
}

async function startTunnel(user: LoggedIn, name: string, dbUser: string, dbName: string): Promise<{ port: number; child: ChildProcess }> {
  const login = await user.jsh(["db", "login", name, `--db-user=${dbUser}`, `--db-name=${dbName}`]);
  if (login.code !== 0) throw new Error(`jsh db login ${name}: ${login.stderr}`);
  const port = await freePort();
  const child = spawn(process.execPath, [BIN_PATH("jsh"), "proxy", "db", name, "--tunnel", `--port=${port}`], {
    cwd: ROOT,
    env: { ...process.env, ...user.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout?.on("data", (b: Buffer) => (out += b.toString()));
  child.stderr?.on("data", (b: Buffer) => (out += b.toString()));
  await eventually(async () => out.includes(`127.0.0.1:${port}`), 30_000, `jsh proxy db ${name} to listen (${out})`);
  return { port, child };
}

async function startCluster(pg: { user: string; password: string; name: string }, my: ThrowawayMariadb | undefined): Promise<Cluster> {
  const work = tempDir("bench-db");
  const pgPassword = join(work, "pg-password");
  writeFileSync(pgPassword, `${pg.password}\n`, { mode: 0o600 });
  const databases = [
    `    - name: pg
      protocol: postgres
      uri: ${PG_HOST}:${PG_PORT}
      static_labels: {env: bench}
      credentials: {username: ${pg.user}, password_file: ${pgPassword}}`,
  ];
  if (my) {
    const myPassword = join(work, "mariadb-password");
    writeFileSync(myPassword, `${my.password}\n`, { mode: 0o600 });
    databases.push(`    - name: mariadb
      protocol: mysql
      uri: ${MARIADB_HOST}:${MARIADB_PORT}
      static_labels: {env: bench}
      credentials: {username: ${my.user}, password_file: ${myPassword}}`);
  }
  const agentConfig = join(work, "db-agent.yaml");
  writeFileSync(agentConfig, `version: v3\njumpgate:\n  nodename: bench-db\ndb_service:\n  enabled: yes\n  databases:\n${databases.join("\n")}\n`);
  const d = await startDaemon({ extraArgs: ["--roles", "auth,proxy"] });
  const role = join(work, "role.yaml");
  writeFileSync(
    role,
    `kind: role\nversion: v7\nmetadata: {name: db-bench}\nspec:\n  allow:\n    db_labels: {env: bench}\n    db_users: ["${pg.user}"${my ? `, "${my.user}"` : ""}]\n    db_names: ["*"]\n`,
  );
  const created = await run("jctl", ["--data-dir", d.dataDir, "create", "-f", role]);
  if (created.code !== 0) throw new Error(`jctl create role: ${created.stderr}`);
  const tok = await run("jctl", ["--data-dir", d.dataDir, "tokens", "add", "--type=db", "--ttl=10m", "--format=json"]);
  if (tok.code !== 0) throw new Error(`jctl tokens add: ${tok.stderr}`);
  const agent = await startAgent({ proxyAddr: d.proxyAddr, config: agentConfig, extraArgs: ["--roles=db"], token: JSON.parse(tok.stdout).token as string });
  const user = await userLoggedIn(d, "bench", "db-bench", "bench");
  await eventually(async () => (await user.jsh(["db", "ls"])).stdout.includes(my ? "mariadb" : "pg"), 30_000, "the databases in jsh db ls");
  const pgTunnel = await startTunnel(user, "pg", pg.user, pg.name);
  const myTunnel = my ? await startTunnel(user, "mariadb", my.user, my.name) : undefined;
  return { d, agent, user, work, pgTunnel, myTunnel };
}

// ---- the clients ----

interface Sample {
  /** Transactions (pgbench) or queries (mysqlslap) per second. */
  tps: number;
  latencyMs: number;
  /** New connections per second (pgbench -C). */
  connsPerSec: number;
  count: number;
  /** CPU µs per query, per process group on the path. */
  cpu: Record<string, number>;
}

function runClient(cmd: string, args: string[], env: Record<string, string>, timeoutMs: number): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
    child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("error", reject);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

interface Target {
  port: number;
  /** The processes on this path whose CPU is reported: name → pids. */
  procs: Record<string, number[]>;
}

async function measure(target: Target, fn: () => Promise<{ count: number; tps: number; latencyMs: number; connsPerSec: number }>): Promise<Sample> {
  const before = Object.fromEntries(Object.entries(target.procs).map(([k, pids]) => [k, pids.reduce((a, p) => a + cpuSeconds(p), 0)]));
  const r = await fn();
  const cpu: Record<string, number> = {};
  for (const [k, pids] of Object.entries(target.procs)) {
    const after = pids.reduce((a, p) => a + cpuSeconds(p), 0);
    cpu[k] = ((after - (before[k] ?? 0)) / Math.max(1, r.count)) * 1e6;
  }
  return { ...r, cpu };
}

function pgbench(o: Options, pg: { user: string; password: string; name: string }, port: number, connect: boolean, seconds: number) {
  return async () => {
    const args = ["-h", "127.0.0.1", "-p", String(port), "-U", pg.user, "-n", "-S", ...(connect ? ["-C"] : []), "-c", String(o.clients), "-j", String(o.jobs), "-T", String(seconds), pg.name];
    const r = await runClient("pgbench", args, { PGSSLMODE: "disable", PGPASSWORD: pg.password, PGCONNECT_TIMEOUT: "10" }, (seconds + 60) * 1000);
    const num = (re: RegExp) => Number(re.exec(r.stdout)?.[1] ?? Number.NaN);
    const count = num(/number of transactions actually processed: (\d+)/);
    const failed = num(/number of failed transactions: (\d+)/);
    if (r.code !== 0 || !Number.isFinite(count) || count === 0 || failed > 0) {
      throw new Error(`pgbench on port ${port} failed (${r.code}):\n${r.stdout}\n${r.stderr}`);
    }
    const tps = num(/tps = ([\d.]+)/);
    return { count, tps, latencyMs: num(/latency average = ([\d.]+) ms/), connsPerSec: connect ? tps : Number.NaN };
  };
}

function mysqlslap(o: Options, my: ThrowawayMariadb, port: number, queries: number, viaTunnel: boolean) {
  return async () => {
    const args = [
      "-h",
      "127.0.0.1",
      "-P",
      String(port),
      "--protocol=TCP",
      "-u",
      my.user,
      ...(viaTunnel ? [] : [`--password=${my.password}`]),
      `--create-schema=${my.name}`,
      "--no-drop",
      "--query=SELECT 1",
      `--concurrency=${o.clients}`,
      `--number-of-queries=${queries}`,
      "--iterations=1",
    ];
    const r = await runClient("mysqlslap", args, {}, 300_000);
    const secs = Number(/Average number of seconds to run all queries: ([\d.]+)/.exec(r.stdout)?.[1] ?? Number.NaN);
    const perClient = Number(/Average number of queries per client: (\d+)/.exec(r.stdout)?.[1] ?? Number.NaN);
    if (r.code !== 0 || !Number.isFinite(secs) || !Number.isFinite(perClient)) {
      throw new Error(`mysqlslap on port ${port} failed (${r.code}):\n${r.stdout}\n${r.stderr}`);
    }
    const count = perClient * o.clients;
    // Each client runs its queries one after another: latency = its time / its queries.
    return { count, tps: count / secs, latencyMs: (secs * 1000) / perClient, connsPerSec: Number.NaN };
  };
}

// ---- output ----

const VARIANT_NAMES: Record<VariantId, string> = {
  direct: "direct",
  pgbouncer: "pgbouncer",
  relays: `bare relays (${HOPS} hops)`,
  jumpgate: "jsh proxy db --tunnel",
};

const WORKLOAD_NAMES: Record<Workload, string> = {
  select: "pgbench -S",
  connect: "pgbench -S -C (new connection per transaction)",
  mysql: "mysqlslap SELECT 1",
};

interface Summary {
  workload: Workload;
  variant: VariantId;
  tps: number;
  latency_ms: number;
  connections_per_s: number;
  /** µs of CPU per query, median over rounds. */
  cpu_us_per_query: Record<string, number>;
  rounds: number;
  /** Why the variant failed (then it has no figures). */
  error?: string;
}

function fmt(n: number, digits = 0): string {
  return Number.isFinite(n) ? n.toFixed(digits) : "-";
}

async function main(): Promise<void> {
  const o = options();
  const wantPg = o.workloads.includes("select") || o.workloads.includes("connect");
  const wantMy = o.workloads.includes("mysql");
  log("starting PostgreSQL/MariaDB databases, pgbouncer, relays and a cluster");
  const pgDb: ThrowawayDatabase = await createThrowawayDatabase();
  const url = new URL(pgDb.connString);
  const pg = { user: decodeURIComponent(url.username), password: decodeURIComponent(url.password), name: pgDb.name };
  const my = wantMy ? await createThrowawayMariadb() : undefined;
  const dirs: string[] = [];
  const children: ChildProcess[] = [];
  let cluster: Cluster | undefined;
  try {
    if (wantPg) {
      const init = await runClient("pgbench", ["-i", "-q", "-s", "1", "-h", PG_HOST, "-p", String(PG_PORT), "-U", pg.user, pg.name], { PGPASSWORD: pg.password, PGSSLMODE: "disable" }, 120_000);
      if (init.code !== 0) throw new Error(`pgbench -i: ${init.stderr}`);
    }
    const bouncerDir = tempDir("bench-pgbouncer");
    dirs.push(bouncerDir);
    const bouncer = wantPg ? await startPgbouncer(bouncerDir, pg.user, pg.password) : undefined;
    if (bouncer) children.push(bouncer.child);
    const pgRelays = wantPg ? await startRelayChain(PG_HOST, PG_PORT) : undefined;
    const myRelays = wantMy ? await startRelayChain(MARIADB_HOST, MARIADB_PORT) : undefined;
    children.push(...(pgRelays?.children ?? []), ...(myRelays?.children ?? []));
    cluster = await startCluster(pg, my);
    dirs.push(cluster.work, cluster.d.dataDir, cluster.agent.dataDir, cluster.user.home);
    const ours = (tunnel: ChildProcess): Record<string, number[]> => ({
      proxy: [cluster?.d.child.pid as number],
      "db service": [cluster?.agent.child.pid as number],
      "jsh proxy db": [tunnel.pid as number],
    });
    const pgTargets: Partial<Record<VariantId, Target>> = {
      direct: { port: PG_PORT, procs: {} },
      ...(bouncer ? { pgbouncer: { port: bouncer.port, procs: { pgbouncer: [bouncer.pid] } } } : {}),
      ...(pgRelays ? { relays: { port: pgRelays.port, procs: { relays: pgRelays.pids } } } : {}),
      jumpgate: { port: cluster.pgTunnel.port, procs: ours(cluster.pgTunnel.child) },
    };
    const myTargets: Partial<Record<VariantId, Target>> = {
      direct: { port: MARIADB_PORT, procs: {} },
      ...(myRelays ? { relays: { port: myRelays.port, procs: { relays: myRelays.pids } } } : {}),
      ...(cluster.myTunnel ? { jumpgate: { port: cluster.myTunnel.port, procs: ours(cluster.myTunnel.child) } } : {}),
    };
    const targetsOf = (w: Workload) => (w === "mysql" ? myTargets : pgTargets);
    const job = (w: Workload, v: VariantId, t: Target, seconds: number, warm: boolean) => {
      if (w === "mysql") {
        if (!my) throw new Error("no MariaDB");
        const queries = warm ? Math.max(o.clients * 50, Math.round(o.mysqlQueries / 10)) : o.mysqlQueries;
        return mysqlslap(o, my, t.port, queries, v === "jumpgate");
      }
      return pgbench(o, pg, t.port, w === "connect", seconds);
    };

    if (o.hold) {
      const show = (t: Partial<Record<VariantId, Target>>) =>
        Object.entries(t)
          .map(([v, x]) => `${v} 127.0.0.1:${x.port} ${JSON.stringify(x.procs)}`)
          .join("\n  ");
      process.stdout.write(
        `postgres: user ${pg.user}, database ${pg.name}\n  ${show(pgTargets)}\nmariadb: user ${my?.user ?? "-"} password ${my?.password ?? "-"} database ${my?.name ?? "-"}\n  ${show(myTargets)}\nJSH_HOME=${cluster.user.home}\nwaiting for SIGTERM or SIGINT\n`,
      );
      await new Promise<void>((resolve) => {
        process.once("SIGTERM", resolve);
        process.once("SIGINT", resolve);
      });
      return;
    }
    // A variant that fails is reported with its error and skipped in later rounds; the others go on.
    const failures = new Map<string, string>();
    const fail = (w: Workload, v: VariantId, e: unknown) => {
      const msg = (e instanceof Error ? e.message : String(e)).split("\n").map((l) => l.trim()).filter(Boolean).slice(0, 3).join(" / ");
      if (!failures.has(`${w}/${v}`)) log(`${WORKLOAD_NAMES[w]} ${VARIANT_NAMES[v]} failed: ${msg}`);
      failures.set(`${w}/${v}`, msg);
    };
    if (o.warmup > 0) {
      log(`warm-up (${o.warmup} s per variant)`);
      for (const w of o.workloads) {
        for (const [v, t] of Object.entries(targetsOf(w)) as [VariantId, Target][]) {
          await job(w, v, t, o.warmup, true)().catch((e: unknown) => fail(w, v, e));
        }
      }
    }
    const samples = new Map<string, Sample[]>();
    for (let round = 0; round < o.rounds; round++) {
      for (const w of o.workloads) {
        const entries = Object.entries(targetsOf(w)) as [VariantId, Target][];
        // The order rotates every round, so no variant always runs first (or right after another).
        const order = entries.map((_, i) => entries[(i + round) % entries.length] as [VariantId, Target]);
        for (const [v, t] of order) {
          if (failures.has(`${w}/${v}`)) continue;
          let s: Sample;
          try {
            s = await measure(t, job(w, v, t, o.seconds, false));
          } catch (e) {
            fail(w, v, e);
            continue;
          }
          const key = `${w}/${v}`;
          samples.set(key, [...(samples.get(key) ?? []), s]);
          log(`round ${round + 1}/${o.rounds} ${WORKLOAD_NAMES[w]} ${VARIANT_NAMES[v]}: ${fmt(s.tps)}/s`);
        }
      }
    }

    const summaries: Summary[] = [];
    for (const w of o.workloads) {
      for (const v of Object.keys(targetsOf(w)) as VariantId[]) {
        const ss = samples.get(`${w}/${v}`) ?? [];
        const keys = [...new Set(ss.flatMap((s) => Object.keys(s.cpu)))];
        summaries.push({
          workload: w,
          variant: v,
          tps: median(ss.map((s) => s.tps)),
          latency_ms: median(ss.map((s) => s.latencyMs)),
          connections_per_s: median(ss.map((s) => s.connsPerSec)),
          cpu_us_per_query: Object.fromEntries(keys.map((k) => [k, median(ss.map((s) => s.cpu[k] ?? Number.NaN))])),
          rounds: ss.length,
          ...(failures.has(`${w}/${v}`) ? { error: failures.get(`${w}/${v}`) } : {}),
        });
      }
    }
    const get = (w: Workload, v: VariantId) => summaries.find((s) => s.workload === w && s.variant === v);
    const ratio = (w: Workload, a: VariantId, b: VariantId, key: "tps" | "connections_per_s" = "tps") => {
      const x = get(w, a)?.[key];
      const y = get(w, b)?.[key];
      return x !== undefined && y !== undefined && y > 0 ? x / y : Number.NaN;
    };
    const ratios: Record<string, Record<string, number>> = {};
    for (const w of o.workloads) {
      ratios[w] = {
        jumpgate_vs_relays: ratio(w, "jumpgate", "relays"),
        jumpgate_vs_pgbouncer: ratio(w, "jumpgate", "pgbouncer"),
        jumpgate_vs_direct: ratio(w, "jumpgate", "direct"),
        pgbouncer_vs_direct: ratio(w, "pgbouncer", "direct"),
        relays_vs_direct: ratio(w, "relays", "direct"),
      };
    }
    const goals = {
      select_vs_relays: { value: ratios.select?.jumpgate_vs_relays ?? Number.NaN, goal: GOALS.vsRelays },
      select_vs_pgbouncer: { value: ratios.select?.jumpgate_vs_pgbouncer ?? Number.NaN, goal: GOALS.vsPgbouncer },
      connect_vs_direct: { value: ratio("connect", "jumpgate", "direct", "connections_per_s"), goal: GOALS.connectVsDirect },
      connect_vs_relays: { value: ratios.connect?.jumpgate_vs_relays ?? Number.NaN, goal: GOALS.vsRelays },
      mysql_vs_relays: { value: ratios.mysql?.jumpgate_vs_relays ?? Number.NaN, goal: GOALS.vsRelays },
    };
    const setup = {
      seconds: o.seconds,
      rounds: o.rounds,
      clients: o.clients,
      jobs: o.jobs,
      mysql_queries: o.mysqlQueries,
      hops: HOPS,
      cores: Number(spawnSync("nproc").stdout.toString().trim()),
      node: process.version,
      pgbench: spawnSync("pgbench", ["--version"]).stdout.toString().trim(),
    };
    if (o.format === "json") {
      process.stdout.write(`${JSON.stringify({ setup, results: summaries, ratios, goals }, null, 2)}\n`);
      return;
    }
    const lines: string[] = [];
    lines.push(`${o.rounds} rounds × ${o.seconds} s, ${o.clients} clients, ${o.jobs} pgbench threads, mysqlslap ${o.mysqlQueries} queries; ${setup.cores} cores, Node ${process.version}`);
    for (const w of o.workloads) {
      lines.push("", WORKLOAD_NAMES[w]);
      lines.push(`  ${"variant".padEnd(24)} ${"TPS".padStart(8)} ${"lat ms".padStart(7)} ${"conn/s".padStart(7)}  CPU µs per query`);
      for (const s of summaries.filter((x) => x.workload === w)) {
        const cpu = Object.entries(s.cpu_us_per_query)
          .map(([k, v]) => `${k} ${fmt(v)}`)
          .join(", ");
        if (s.error !== undefined && s.rounds === 0) {
          lines.push(`  ${VARIANT_NAMES[s.variant].padEnd(24)} failed: ${s.error}`);
          continue;
        }
        lines.push(`  ${VARIANT_NAMES[s.variant].padEnd(24)} ${fmt(s.tps).padStart(8)} ${fmt(s.latency_ms, 3).padStart(7)} ${fmt(s.connections_per_s).padStart(7)}  ${cpu}`);
      }
      const r = ratios[w] ?? {};
      lines.push(
        `  ratios: jumpgate/relays ${fmt(r.jumpgate_vs_relays ?? Number.NaN, 2)}, jumpgate/pgbouncer ${fmt(r.jumpgate_vs_pgbouncer ?? Number.NaN, 2)}, jumpgate/direct ${fmt(r.jumpgate_vs_direct ?? Number.NaN, 2)}, pgbouncer/direct ${fmt(r.pgbouncer_vs_direct ?? Number.NaN, 2)}, relays/direct ${fmt(r.relays_vs_direct ?? Number.NaN, 2)}`,
      );
    }
    lines.push("", "goals:");
    for (const [k, g] of Object.entries(goals)) {
      if (!Number.isFinite(g.value)) continue;
      lines.push(`  ${k.padEnd(20)} ${fmt(g.value, 2)} (goal >= ${g.goal}: ${g.value >= g.goal ? "met" : "not met"})`);
    }
    process.stdout.write(`${lines.join("\n")}\n`);
  } finally {
    cluster?.pgTunnel.child.kill("SIGTERM");
    cluster?.myTunnel?.child.kill("SIGTERM");
    await cluster?.agent.stop();
    await cluster?.d.stop();
    for (const c of children) c.kill("SIGTERM");
    await pgDb.drop().catch(() => undefined);
    await my?.drop().catch(() => undefined);
    cleanup(...dirs);
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`bench: ${e instanceof Error ? e.stack : String(e)}\n`);
    process.exit(1);
  },
);
