/**
 * HTTP application access through Jumpgate side by side with the references,
 * on loopback, measured with wrk (keep-alive, one thread, C connections).
 *
 * Starts a small Node HTTP app (its own process; a ~300-byte answer), nginx
 * as a plain reverse proxy to it (keep-alive upstream), a minimal Node `http`
 * proxy (its own process; requests piped, keep-alive agent upstream), and a
 * cluster: a daemon (auth + proxy, one process, public host `localhost`), an
 * Application Service in its own process that joined with an `app` token and
 * reaches the proxy through a reverse tunnel, a user logged in with `jsh
 * login` running `jsh proxy app bench`, and a second user signed in through
 * the web API whose app-session cookie the launch route handed out. Then, in
 * one run, alternating the targets round by round:
 *
 *   direct        wrk → app
 *   nginx         wrk → nginx → app
 *   node proxy    wrk → minimal Node proxy → app
 *   jsh proxy app wrk → jsh proxy app (plain http) → proxy → tunnel → Application Service → app
 *   browser path  wrk → https://bench.localhost:PORT (cookie) → proxy → tunnel → Application Service → app
 *
 * Prints medians of req/s, p99 latency and the CPU per request of every
 * process on the path (from /proc/PID/stat, read after the path is idle
 * again, so work left over from the run — audit events — counts), and the
 * ratios against the minimal Node proxy and nginx.
 *
 *   node --import tsx bench/app.ts [--seconds 5] [--rounds 3] [--connections 32] [--threads 1]
 *       [--warmup 2] [--variants direct,nginx,node,jsh,browser] [--audit-requests on|off]
 *       [--nginx-workers 1] [--cpu-prof DIR] [--hold] [--format text|json]
 *
 * Every flag also reads an environment variable (BENCH_SECONDS, BENCH_ROUNDS, ...).
 * Needs root (a private mount namespace gives wrk a hosts file with
 * bench.localhost), Linux /proc, wrk and nginx (bench/app.sh installs them).
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import net from "node:net";
import { loadavg } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { totpCode } from "../src/lib/auth/index.ts";
import { type Agent, BIN_PATH, cleanup, type Daemon, freePort, ROOT, run, startAgent, startDaemon, tempDir } from "../test/harness/cluster.ts";
import { eventually, type LoggedIn, TEST_PASSWORD, userLoggedIn } from "../test/harness/users.ts";
import { webJson } from "../test/harness/web.ts";

const APP = "bench";
const APP_HOST = `${APP}.localhost`;
const APP_COOKIE = "__Host-jumpgate_app_session";
const GOAL = 0.9;
/** The issue's figures (another machine): for scale only. */
const ISSUE = { nginx: 53_400, node: 27_000, nodeCpuUs: 36.7 };

type VariantId = "direct" | "nginx" | "node" | "jsh" | "browser";
const ALL: VariantId[] = ["direct", "nginx", "node", "jsh", "browser"];
const NAMES: Record<VariantId, string> = {
  direct: "direct (Node app)",
  nginx: "nginx reverse proxy",
  node: "minimal Node proxy",
  jsh: "jsh proxy app",
  browser: "browser path (cookie)",
};

interface Options {
  seconds: number;
  warmup: number;
  rounds: number;
  connections: number;
  threads: number;
  variants: VariantId[];
  auditRequests: boolean;
  nginxWorkers: number;
  cpuProfDir: string | undefined;
  hold: boolean;
  format: "text" | "json";
}

function options(): Options {
  const { values } = parseArgs({
    options: {
      seconds: { type: "string" },
      warmup: { type: "string" },
      rounds: { type: "string" },
      connections: { type: "string" },
      threads: { type: "string" },
      variants: { type: "string" },
      "audit-requests": { type: "string" },
      "nginx-workers": { type: "string" },
      "cpu-prof": { type: "string" },
      hold: { type: "boolean" },
      format: { type: "string" },
      json: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    process.stdout.write(
      "usage: node --import tsx bench/app.ts [--seconds 5] [--warmup 2] [--rounds 3] [--connections 32] [--threads 1] [--variants direct,nginx,node,jsh,browser] [--audit-requests on|off] [--nginx-workers 1] [--cpu-prof DIR] [--hold] [--format text|json]\n",
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
  const variants = (values.variants ?? process.env.BENCH_VARIANTS ?? ALL.join(",")).split(",").map((v) => v.trim()) as VariantId[];
  for (const v of variants) if (!ALL.includes(v)) throw new Error(`unknown variant ${v}: want ${ALL.join(", ")}`);
  const audit = values["audit-requests"] ?? process.env.BENCH_AUDIT_REQUESTS ?? "on";
  if (audit !== "on" && audit !== "off") throw new Error(`--audit-requests ${audit}: want on or off`);
  const format = values.json || process.env.BENCH_JSON === "1" ? "json" : (values.format ?? process.env.BENCH_FORMAT ?? "text");
  if (format !== "text" && format !== "json") throw new Error(`--format ${format}: want text or json`);
  return {
    seconds: num(values.seconds, "BENCH_SECONDS", 5),
    warmup: num(values.warmup, "BENCH_WARMUP", 2, 0),
    rounds: num(values.rounds, "BENCH_ROUNDS", 3),
    connections: num(values.connections, "BENCH_CONNECTIONS", 32),
    threads: num(values.threads, "BENCH_THREADS", 1),
    variants,
    auditRequests: audit === "on",
    nginxWorkers: num(values["nginx-workers"], "BENCH_NGINX_WORKERS", 1),
    cpuProfDir: values["cpu-prof"] ?? (process.env.BENCH_CPU_PROF || undefined),
    hold: values.hold ?? false,
    format,
  };
}

const log = (msg: string) => process.stderr.write(`bench: ${msg}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---- /proc ----

const CLK_TCK = Number(spawnSync("getconf", ["CLK_TCK"]).stdout?.toString().trim()) || 100;

/** [utime + stime, cutime + cstime, ppid] of a process, in seconds; undefined when it is gone. */
function procStat(pid: number): { own: number; children: number; ppid: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { own: (Number(f[11]) + Number(f[12])) / CLK_TCK, children: (Number(f[13]) + Number(f[14])) / CLK_TCK, ppid: Number(f[1]) };
  } catch {
    return undefined;
  }
}

const cpuOf = (pids: number[]) => pids.reduce((a, p) => a + (procStat(p)?.own ?? Number.NaN), 0);

/** Children of `pid` (nginx's workers). */
function childrenOf(pid: number): number[] {
  return readdirSync("/proc")
    .filter((d) => /^\d+$/.test(d))
    .map(Number)
    .filter((p) => procStat(p)?.ppid === pid);
}

const median = (xs: number[]) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

// ---- the app and the references ----

/** The app: a fixed ~300-byte answer; `/__count` (asked directly, never through a proxy) says how many requests it served. */
const APP_SERVER = `
const http = require("node:http");
const body = Buffer.from("<!doctype html><title>bench</title><p>" + "The quick brown fox jumps over the lazy dog. ".repeat(5) + "Served by the benchmark's app.</p>\\n".padEnd(40, " "));
let served = 0;
const s = http.createServer((req, res) => {
  if (req.url === "/__count") { res.end(String(served)); return; }
  served++;
  res.writeHead(200, { "content-type": "text/html; charset=utf-8", "content-length": body.length });
  res.end(body);
});
s.keepAliveTimeout = 120000;
s.headersTimeout = 121000;
s.listen(Number(process.env.APP_PORT), "127.0.0.1", () => process.stdout.write(body.length + "\\n"));
`;

/** A minimal reverse proxy: each request piped to the app over a keep-alive agent, the answer piped back. */
const NODE_PROXY = `
const http = require("node:http");
const agent = new http.Agent({ keepAlive: true });
const [port, upPort] = [Number(process.env.PROXY_PORT), Number(process.env.APP_PORT)];
const HOP = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "trailer"]);
const strip = (h) => { const o = {}; for (const k in h) if (!HOP.has(k)) o[k] = h[k]; return o; };
const s = http.createServer((req, res) => {
  const up = http.request({ host: "127.0.0.1", port: upPort, method: req.method, path: req.url, headers: strip(req.headers), agent }, (ur) => {
    res.writeHead(ur.statusCode, strip(ur.headers));
    ur.pipe(res);
  });
  up.on("error", () => { if (!res.headersSent) res.writeHead(502); res.end(); });
  req.pipe(up);
});
s.keepAliveTimeout = 120000;
s.listen(port, "127.0.0.1", () => process.stdout.write("ready\\n"));
`;

function startNode(script: string, env: Record<string, string>): Promise<{ child: ChildProcess; firstLine: string }> {
  const child = spawn(process.execPath, ["-e", script], { env: { ...process.env, ...env, NODE_OPTIONS: "" }, stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout?.on("data", (b: Buffer) => {
      out += b.toString();
      if (out.includes("\n")) resolve({ child, firstLine: out.split("\n")[0] ?? "" });
    });
    child.once("exit", (code) => reject(new Error(`node -e exited (${code})`)));
  });
}

function nginxBinary(): string {
  for (const p of ["/usr/sbin/nginx", "/usr/bin/nginx"]) if (spawnSync(p, ["-v"]).status === 0) return p;
  throw new Error("nginx is not installed (bench/app.sh installs Debian's package: apt-get install nginx)");
}

async function startNginx(dir: string, port: number, appPort: number, workers: number): Promise<{ child: ChildProcess; pids: () => number[]; version: string }> {
  const bin = nginxBinary();
  const conf = join(dir, "nginx.conf");
  writeFileSync(
    conf,
    `worker_processes ${workers};
pid ${join(dir, "nginx.pid")};
error_log ${join(dir, "error.log")} warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${join(dir, "body")};
  proxy_temp_path ${join(dir, "proxy")};
  fastcgi_temp_path ${join(dir, "fastcgi")};
  uwsgi_temp_path ${join(dir, "uwsgi")};
  scgi_temp_path ${join(dir, "scgi")};
  keepalive_requests 1000000;
  upstream app {
    server 127.0.0.1:${appPort};
    keepalive 64;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`,
  );
  const child = spawn(bin, ["-p", dir, "-e", join(dir, "error.log"), "-c", conf, "-g", "daemon off;"], { stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  child.stderr?.on("data", (b: Buffer) => (err += b.toString()));
  await waitForPort(port, 10_000, () => `nginx on ${port} (${err})`);
  const version = spawnSync(bin, ["-v"]).stderr.toString().trim().replace(/^nginx version: /, "");
  const master = child.pid as number;
  // The master and its workers (looked up once they are up: the workers do the work).
  let found: number[] = [];
  return {
    child,
    version,
    pids: () => {
      if (found.length === 0) found = childrenOf(master);
      return [master, ...found];
    },
  };
}

function waitForPort(port: number, timeoutMs: number, what: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const once = () =>
    new Promise<boolean>((resolve) => {
      const s = net.connect(port, "127.0.0.1");
      s.once("connect", () => {
        s.destroy();
        resolve(true);
      });
      s.once("error", () => resolve(false));
    });
  return (async () => {
    while (!(await once())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what()}`);
      await sleep(100);
    }
  })();
}

// ---- HTTP helpers ----

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One request on a fresh connection; with `servername`, over TLS (the proxy's self-signed certificate trusted). */
function request(o: { port: number; path: string; method?: string; host?: string; servername?: string; cookie?: string; json?: unknown }): Promise<Reply> {
  const data = o.json === undefined ? undefined : Buffer.from(JSON.stringify(o.json));
  const headers: Record<string, string | number> = {};
  if (o.host) headers.host = o.host;
  if (o.cookie) headers.cookie = o.cookie;
  if (data) Object.assign(headers, { "content-type": "application/json", "content-length": data.length });
  const opts = { host: "127.0.0.1", port: o.port, path: o.path, method: o.method ?? "GET", headers, agent: false as const };
  return new Promise((resolve, reject) => {
    const done = (res: http.IncomingMessage) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    };
    const req = o.servername !== undefined ? https.request({ ...opts, rejectUnauthorized: false, servername: o.servername }, done) : http.request(opts, done);
    req.setTimeout(10_000, () => req.destroy(new Error(`${opts.method} ${o.path} on ${o.port}: timed out`)));
    req.on("error", reject);
    req.end(data);
  });
}

function setCookie(r: Reply, name: string): string | undefined {
  for (const c of ([] as string[]).concat(r.headers["set-cookie"] ?? [])) {
    const m = /^([^=]+)=([^;]*)/.exec(c);
    if (m?.[1] === name && m[2]) return m[2];
  }
  return undefined;
}

// ---- the cluster ----

interface Cluster {
  d: Daemon;
  agent: Agent;
  user: LoggedIn;
  jsh: { port: number; child: ChildProcess };
  proxyPort: number;
  /** `__Host-jumpgate_app_session=…`, as a browser sends it to the app's host. */
  cookie: string;
  work: string;
}

/**
 * The app-session cookie a browser would hold: a user created with jctl signs
 * in through the web API (POST /webapi/sessions), GET /web/launch/NAME answers
 * with the app host's /x-jumpgate-app-auth?token=… URL, and that answers with
 * the cookie.
 */
async function browserCookie(d: Daemon, proxyPort: number, name: string): Promise<string> {
  const add = await run("jctl", ["--data-dir", d.dataDir, "users", "add", name, "--roles=app-bench", `--logins=${name}`]);
  if (add.code !== 0) throw new Error(`jctl users add: ${add.stderr}`);
  const token = /\/web\/invite\/([0-9a-f]+)/.exec(add.stdout)?.[1] ?? "";
  const secret = String((await webJson(d.proxyAddr, "GET", `/webapi/invites/${token}`)).body.totp_secret);
  const invitedAt = Date.now();
  const done = await webJson(d.proxyAddr, "POST", `/webapi/invites/${token}`, { password: TEST_PASSWORD, totp_code: totpCode(secret, new Date(invitedAt)) });
  if (done.status !== 200) throw new Error(`invite: ${done.text}`);
  const proxyHost = `localhost:${proxyPort}`;
  // The invite used this TOTP step; the sign-in takes the next one (a code works once, and they move forward).
  const signIn = await request({
    port: proxyPort,
    method: "POST",
    path: "/webapi/sessions",
    servername: "localhost",
    host: proxyHost,
    json: { user: name, password: TEST_PASSWORD, otp: totpCode(secret, new Date(invitedAt + 30_000)) },
  });
  const web = setCookie(signIn, "__Host-jumpgate_session");
  if (signIn.status !== 200 || !web) throw new Error(`POST /webapi/sessions: ${signIn.status} ${signIn.body}`);
  const launch = await request({ port: proxyPort, path: `/web/launch/${APP}`, servername: "localhost", host: proxyHost, cookie: `__Host-jumpgate_session=${web}` });
  const to = new URL(String(launch.headers.location ?? ""), `https://${proxyHost}`);
  if (launch.status !== 302 || to.hostname !== APP_HOST) throw new Error(`GET /web/launch/${APP}: ${launch.status} ${launch.headers.location ?? launch.body}`);
  const exchange = await request({ port: proxyPort, path: `${to.pathname}${to.search}`, servername: APP_HOST, host: to.host });
  const app = setCookie(exchange, APP_COOKIE);
  if (!app) throw new Error(`${to.pathname}: ${exchange.status}, no ${APP_COOKIE} cookie (${exchange.body.slice(0, 200)})`);
  return `${APP_COOKIE}=${app}`;
}

async function startCluster(o: Options, appPort: number): Promise<Cluster> {
  const work = tempDir("bench-app");
  // With --cpu-prof, the daemon, the agent and jsh preload bench/cpu-prof.mjs (started by SIGUSR2, written at SIGTERM).
  const profEnv: Record<string, string> = {};
  if (o.cpuProfDir) {
    mkdirSync(o.cpuProfDir, { recursive: true });
    profEnv.NODE_OPTIONS = `--import=${pathToFileURL(join(import.meta.dirname, "cpu-prof.mjs")).href}`;
    profEnv.BENCH_CPU_PROF_DIR = resolve(o.cpuProfDir);
  }
  const proxyPort = await freePort();
  const d = await startDaemon({ proxyPort, publicHost: "localhost", extraArgs: ["--roles", "auth,proxy"], env: profEnv });
  writeFileSync(
    join(work, "agent.yaml"),
    [
      "version: v3",
      "jumpgate:",
      "  nodename: bench-app",
      "app_service:",
      "  enabled: yes",
      `  audit_requests: ${o.auditRequests ? "yes" : "no"}`,
      "  apps:",
      `    - {name: ${APP}, uri: "http://127.0.0.1:${appPort}", labels: {env: bench}}`,
      "",
    ].join("\n"),
  );
  writeFileSync(join(work, "role.yaml"), "kind: role\nversion: v7\nmetadata: {name: app-bench}\nspec:\n  allow:\n    app_labels: {env: bench}\n");
  const created = await run("jctl", ["--data-dir", d.dataDir, "create", "-f", join(work, "role.yaml")]);
  if (created.code !== 0) throw new Error(`jctl create role: ${created.stderr}`);
  const tok = await run("jctl", ["--data-dir", d.dataDir, "tokens", "add", "--type=app", "--ttl=10m", "--format=json"]);
  if (tok.code !== 0) throw new Error(`jctl tokens add: ${tok.stderr}`);
  // startAgent passes this process's environment on.
  const saved = { ...process.env };
  Object.assign(process.env, profEnv);
  const agent = await startAgent({ proxyAddr: d.proxyAddr, token: JSON.parse(tok.stdout).token as string, config: join(work, "agent.yaml"), roles: "app" }).finally(() => {
    for (const k of Object.keys(profEnv)) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  });
  const user = await userLoggedIn(d, "bench", "app-bench", "bench");
  await eventually(async () => (await user.jsh(["apps", "ls"])).stdout.includes(APP), 30_000, "the app in jsh apps ls");
  const login = await user.jsh(["apps", "login", APP]);
  if (login.code !== 0) throw new Error(`jsh apps login: ${login.stderr}`);
  const port = await freePort();
  const child = spawn(process.execPath, [BIN_PATH("jsh"), "proxy", "app", APP, "--port", String(port)], {
    cwd: ROOT,
    env: { ...process.env, ...user.env, ...profEnv },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout?.on("data", (b: Buffer) => (out += b.toString()));
  child.stderr?.on("data", (b: Buffer) => (out += b.toString()));
  await eventually(async () => child.exitCode !== null || out.includes(`127.0.0.1:${port}`), 30_000, `jsh proxy app to listen (${out})`);
  if (child.exitCode !== null) throw new Error(`jsh proxy app exited: ${out}`);
  const cookie = await browserCookie(d, proxyPort, "benchweb");
  return { d, agent, user, jsh: { port, child }, proxyPort, cookie, work };
}

// ---- wrk ----

/** How wrk resolves APP_HOST: its own mount namespace with a hosts file, or a line added to /etc/hosts for the run. */
type HostsMode = { kind: "namespace"; file: string } | { kind: "etc-hosts"; line: string };

function hostsFor(work: string): HostsMode {
  const file = join(work, "hosts");
  writeFileSync(file, `${readFileSync("/etc/hosts", "utf8").trimEnd()}\n127.0.0.1 ${APP_HOST}\n`);
  const probe = spawnSync("unshare", ["-m", "sh", "-c", 'mount --bind "$0" /etc/hosts && getent hosts "$1"', file, APP_HOST]);
  if (probe.status === 0) return { kind: "namespace", file };
  // No private mount namespace here: one line in /etc/hosts, removed at the end (removeHostsLine).
  const line = `127.0.0.1 ${APP_HOST} # jumpgate bench/app.ts, pid ${process.pid}`;
  writeFileSync("/etc/hosts", `${readFileSync("/etc/hosts", "utf8").trimEnd()}\n${line}\n`);
  log(`no private mount namespace (unshare -m): added "${line}" to /etc/hosts for the run`);
  return { kind: "etc-hosts", line };
}

function removeHostsLine(h: HostsMode | undefined): void {
  if (h?.kind !== "etc-hosts") return;
  const text = readFileSync("/etc/hosts", "utf8");
  writeFileSync("/etc/hosts", text.split("\n").filter((l) => l !== h.line).join("\n"));
}

interface WrkResult {
  requests: number;
  rps: number;
  p99Ms: number;
  socketErrors: number;
  non2xx: number;
  output: string;
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

function runWrk(o: Options, v: Variant, seconds: number, hosts: HostsMode): Promise<WrkResult> {
  const args = [`-t${o.threads}`, `-c${o.connections}`, `-d${seconds}s`, "--latency", ...v.headers.flatMap((h) => ["-H", h]), v.url];
  const [cmd, argv] =
    v.needsHosts && hosts.kind === "namespace"
      ? ["unshare", ["-m", "sh", "-c", 'f="$0"; mount --bind "$f" /etc/hosts && exec wrk "$@"', hosts.file, ...args]]
      : ["wrk", args];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv as string[], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (b: Buffer) => (out += b.toString()));
    child.stderr.on("data", (b: Buffer) => (out += b.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), (seconds + 30) * 1000);
    child.once("error", reject);
    child.once("close", (code) => {
      clearTimeout(timer);
      const n = (re: RegExp) => Number(re.exec(out)?.[1] ?? Number.NaN);
      const p99 = /^\s*99%\s+([\d.]+)(us|ms|s|m|h)\s*$/m.exec(out);
      const errs = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
      const requests = n(/(\d+) requests in /);
      if (code !== 0 || !Number.isFinite(requests)) {
        reject(new Error(`wrk ${v.url} failed (${code}): ${out.trim()}`));
        return;
      }
      resolve({
        requests,
        rps: n(/Requests\/sec:\s+([\d.]+)/),
        p99Ms: p99 ? Number(p99[1]) * (UNIT_MS[p99[2] as string] ?? Number.NaN) : Number.NaN,
        socketErrors: errs ? errs.slice(1).reduce((a, x) => a + Number(x), 0) : 0,
        non2xx: n(/Non-2xx or 3xx responses: (\d+)/) || 0,
        output: out,
      });
    });
  });
}

// ---- measuring ----

interface Variant {
  id: VariantId;
  url: string;
  headers: string[];
  /** wrk must resolve APP_HOST to 127.0.0.1. */
  needsHosts: boolean;
  /** The processes on the path (the app's and wrk's own are reported apart): name → pids. */
  procs(): Record<string, number[]>;
  /** One request through the path, before the runs: it must answer the app's page. */
  check(): Promise<Reply>;
}

interface Sample {
  rps: number;
  p99Ms: number;
  requests: number;
  /** µs of CPU per request: each process on the path, their total, the app, wrk. */
  cpu: Record<string, number>;
  pathUs: number;
  appUs: number;
  wrkUs: number;
  /** How long the path took to be idle again after wrk ended (its CPU until then counts). */
  settleMs: number;
  /** What makes this sample suspect: errors, non-2xx answers, requests that did not reach the app. */
  problems: string[];
}

/** Waits until `pids` use less than one clock tick per 300 ms (the audit queue drained); returns the time waited. */
async function settle(pids: number[], maxMs: number): Promise<number> {
  const start = Date.now();
  let last = cpuOf(pids);
  while (Date.now() - start < maxMs) {
    await sleep(300);
    const now = cpuOf(pids);
    if (now - last <= 1.01 / CLK_TCK) return Date.now() - start;
    last = now;
  }
  return Number.POSITIVE_INFINITY;
}

async function measure(o: Options, v: Variant, app: { pid: number; port: number }, hosts: HostsMode, seconds: number): Promise<Sample> {
  const procs = v.procs();
  const pathPids = Object.values(procs).flat();
  await settle([...pathPids, app.pid], 10_000);
  const served = async () => Number((await request({ port: app.port, path: "/__count" })).body);
  const before = Object.fromEntries(Object.entries(procs).map(([k, pids]) => [k, cpuOf(pids)]));
  const appBefore = cpuOf([app.pid]);
  const wrkBefore = procStat(process.pid)?.children ?? Number.NaN;
  const servedBefore = await served();
  const r = await runWrk(o, v, seconds, hosts);
  const wrkAfter = procStat(process.pid)?.children ?? Number.NaN;
  const settleMs = await settle([...pathPids, app.pid], 20_000);
  const reached = (await served()) - servedBefore;
  const per = (x: number) => (x / Math.max(1, r.requests)) * 1e6;
  const cpu: Record<string, number> = {};
  for (const [k, pids] of Object.entries(procs)) cpu[k] = per(cpuOf(pids) - (before[k] ?? 0));
  const problems: string[] = [];
  if (r.socketErrors > 0) problems.push(`${r.socketErrors} socket errors`);
  if (r.non2xx > 0) problems.push(`${r.non2xx} non-2xx/3xx answers`);
  // wrk counts 3xx as success: count what the app served (it may have served up to one more per connection).
  if (reached < r.requests * 0.99) problems.push(`only ${reached} of ${r.requests} requests reached the app`);
  if (!Number.isFinite(settleMs)) problems.push("the path was still busy 20 s after the run (its CPU is undercounted)");
  return {
    rps: r.rps,
    p99Ms: r.p99Ms,
    requests: r.requests,
    cpu,
    // The direct variant has no process between wrk and the app.
    pathUs: pathPids.length === 0 ? Number.NaN : Object.values(cpu).reduce((a, x) => a + x, 0),
    appUs: per(cpuOf([app.pid]) - appBefore),
    wrkUs: per(wrkAfter - wrkBefore),
    settleMs,
    problems,
  };
}

// ---- output ----

interface Summary {
  variant: VariantId;
  name: string;
  rps: number;
  p99_ms: number;
  cpu_us_per_request: Record<string, number>;
  path_cpu_us_per_request: number;
  app_cpu_us_per_request: number;
  wrk_cpu_us_per_request: number;
  settle_ms: number;
  rounds: number;
  samples_rps: number[];
  problems: string[];
  error?: string;
}

function fmt(n: number, digits = 0): string {
  return Number.isFinite(n) ? n.toFixed(digits) : "-";
}

async function main(): Promise<void> {
  const o = options();
  const children: ChildProcess[] = [];
  const dirs: string[] = [];
  let cluster: Cluster | undefined;
  let hosts: HostsMode | undefined;
  try {
    log("starting the app, nginx, the minimal Node proxy and a cluster");
    const work = tempDir("bench-app-refs");
    dirs.push(work);
    const appPort = await freePort();
    const appProc = await startNode(APP_SERVER, { APP_PORT: String(appPort) });
    children.push(appProc.child);
    const bodyBytes = Number(appProc.firstLine);
    const page = (await request({ port: appPort, path: "/" })).body;
    const nginxPort = await freePort();
    mkdirSync(join(work, "nginx"));
    const nginx = await startNginx(join(work, "nginx"), nginxPort, appPort, o.nginxWorkers);
    children.push(nginx.child);
    const nodePort = await freePort();
    const nodeProxy = await startNode(NODE_PROXY, { PROXY_PORT: String(nodePort), APP_PORT: String(appPort) });
    children.push(nodeProxy.child);
    cluster = await startCluster(o, appPort);
    const c = cluster;
    dirs.push(c.work, c.d.dataDir, c.agent.dataDir, c.user.home);
    hosts = hostsFor(c.work);
    const ours = { proxy: [c.d.child.pid as number], agent: [c.agent.child.pid as number] };
    const appHostPort = `${APP_HOST}:${c.proxyPort}`;
    const all: Record<VariantId, Variant> = {
      direct: { id: "direct", url: `http://127.0.0.1:${appPort}/`, headers: [], needsHosts: false, procs: () => ({}), check: () => request({ port: appPort, path: "/" }) },
      nginx: { id: "nginx", url: `http://127.0.0.1:${nginxPort}/`, headers: [], needsHosts: false, procs: () => ({ nginx: nginx.pids() }), check: () => request({ port: nginxPort, path: "/" }) },
      node: {
        id: "node",
        url: `http://127.0.0.1:${nodePort}/`,
        headers: [],
        needsHosts: false,
        procs: () => ({ "node proxy": [nodeProxy.child.pid as number] }),
        check: () => request({ port: nodePort, path: "/" }),
      },
      jsh: {
        id: "jsh",
        url: `http://127.0.0.1:${c.jsh.port}/`,
        headers: [],
        needsHosts: false,
        procs: () => ({ ...ours, "jsh proxy app": [c.jsh.child.pid as number] }),
        check: () => request({ port: c.jsh.port, path: "/" }),
      },
      browser: {
        id: "browser",
        url: `https://${appHostPort}/`,
        // As a browser sends it: the Host with the port, and the app-session cookie.
        headers: [`Host: ${appHostPort}`, `Cookie: ${c.cookie}`],
        needsHosts: true,
        procs: () => ({ ...ours }),
        check: () => request({ port: c.proxyPort, path: "/", servername: APP_HOST, host: appHostPort, cookie: c.cookie }),
      },
    };
    const variants = o.variants.map((v) => all[v]);
    for (const v of variants) {
      const r = await v.check();
      if (r.status !== 200 || r.body !== page) throw new Error(`${NAMES[v.id]} (${v.url}) did not answer the app's page: ${r.status} ${r.body.slice(0, 300)}`);
    }

    if (o.hold) {
      const lines = variants.map((v) => `  ${v.id.padEnd(8)} wrk ${v.headers.map((h) => `-H '${h}' `).join("")}${v.url}  ${JSON.stringify(v.procs())}`);
      process.stdout.write(
        `${lines.join("\n")}\napp 127.0.0.1:${appPort} pid ${appProc.child.pid}\nhosts: ${hosts.kind === "namespace" ? `unshare -m sh -c 'mount --bind ${hosts.file} /etc/hosts && exec wrk ...'` : "/etc/hosts has the line"}\nJSH_HOME=${c.user.home}\nwaiting for SIGTERM or SIGINT\n`,
      );
      await new Promise<void>((r) => {
        process.once("SIGTERM", r);
        process.once("SIGINT", r);
      });
      return;
    }

    const failures = new Map<VariantId, string>();
    const fail = (v: VariantId, e: unknown) => {
      const msg = (e instanceof Error ? e.message : String(e)).split("\n").map((l) => l.trim()).filter(Boolean).slice(0, 3).join(" / ");
      if (!failures.has(v)) log(`${NAMES[v]} failed: ${msg}`);
      failures.set(v, msg);
    };
    if (o.warmup > 0) {
      log(`warm-up (${o.warmup} s per variant)`);
      for (const v of variants) await runWrk(o, v, o.warmup, hosts).catch((e: unknown) => fail(v.id, e));
    }
    if (o.cpuProfDir) for (const p of [c.d.child, c.agent.child, c.jsh.child]) p.kill("SIGUSR2");
    const samples = new Map<VariantId, Sample[]>();
    const loadBefore = loadavg()[0] ?? Number.NaN;
    for (let round = 0; round < o.rounds; round++) {
      // The order rotates every round, so no variant always runs first (or right after another).
      const order = variants.map((_, i) => variants[(i + round) % variants.length] as Variant);
      for (const v of order) {
        if (failures.has(v.id)) continue;
        try {
          const s = await measure(o, v, { pid: appProc.child.pid as number, port: appPort }, hosts, o.seconds);
          samples.set(v.id, [...(samples.get(v.id) ?? []), s]);
          log(`round ${round + 1}/${o.rounds} ${NAMES[v.id]}: ${fmt(s.rps)} req/s, ${fmt(s.pathUs, 1)} µs CPU/req${s.problems.length ? ` (${s.problems.join("; ")})` : ""}`);
        } catch (e) {
          fail(v.id, e);
        }
      }
    }

    const summaries: Summary[] = variants.map((v) => {
      const ss = samples.get(v.id) ?? [];
      const keys = [...new Set(ss.flatMap((s) => Object.keys(s.cpu)))];
      return {
        variant: v.id,
        name: NAMES[v.id],
        rps: median(ss.map((s) => s.rps)),
        p99_ms: median(ss.map((s) => s.p99Ms)),
        cpu_us_per_request: Object.fromEntries(keys.map((k) => [k, median(ss.map((s) => s.cpu[k] ?? Number.NaN))])),
        path_cpu_us_per_request: median(ss.map((s) => s.pathUs)),
        app_cpu_us_per_request: median(ss.map((s) => s.appUs)),
        wrk_cpu_us_per_request: median(ss.map((s) => s.wrkUs)),
        settle_ms: median(ss.map((s) => s.settleMs)),
        rounds: ss.length,
        samples_rps: ss.map((s) => Math.round(s.rps)),
        problems: [...new Set(ss.flatMap((s) => s.problems))],
        ...(failures.has(v.id) ? { error: failures.get(v.id) } : {}),
      };
    });
    const get = (v: VariantId) => summaries.find((s) => s.variant === v);
    const div = (a: number | undefined, b: number | undefined) => (a !== undefined && b !== undefined && b > 0 ? a / b : Number.NaN);
    const ratios = Object.fromEntries(
      summaries.map((s) => [
        s.variant,
        {
          rps_vs_node_proxy: div(s.rps, get("node")?.rps),
          rps_vs_nginx: div(s.rps, get("nginx")?.rps),
          cpu_vs_node_proxy: div(s.path_cpu_us_per_request, get("node")?.path_cpu_us_per_request),
          cpu_vs_nginx: div(s.path_cpu_us_per_request, get("nginx")?.path_cpu_us_per_request),
        },
      ]),
    );
    const goals = Object.fromEntries(
      (["jsh", "browser"] as VariantId[]).filter((v) => get(v) && get("node")).map((v) => [v, { value: ratios[v]?.rps_vs_node_proxy ?? Number.NaN, goal: GOAL }]),
    );
    const setup = {
      seconds: o.seconds,
      rounds: o.rounds,
      wrk: `-t${o.threads} -c${o.connections}`,
      body_bytes: bodyBytes,
      audit_requests: o.auditRequests,
      nginx: `${nginx.version}, ${o.nginxWorkers} worker${o.nginxWorkers === 1 ? "" : "s"}, access_log off`,
      hosts: hosts.kind === "namespace" ? "wrk in its own mount namespace with a hosts file" : "a line in /etc/hosts for the run",
      cores: Number(spawnSync("nproc").stdout.toString().trim()),
      node: process.version,
      /** The 1-minute load average when the timed rounds started and ended: other work on the machine shows in every figure. */
      load: [loadBefore, loadavg()[0] ?? Number.NaN].map((x) => Math.round(x * 100) / 100),
      issue: { nginx_rps: ISSUE.nginx, node_proxy_rps: ISSUE.node, node_proxy_cpu_us: ISSUE.nodeCpuUs },
    };
    if (o.format === "json") {
      process.stdout.write(`${JSON.stringify({ setup, results: summaries, ratios, goals }, null, 2)}\n`);
      return;
    }
    const lines: string[] = [];
    lines.push(
      `wrk ${setup.wrk}, ${o.rounds} rounds × ${o.seconds} s (medians), ${bodyBytes}-byte answer; ${setup.cores} cores, Node ${process.version}, nginx ${setup.nginx}; app.session.request audit ${o.auditRequests ? "on (the default)" : "off"}; load ${setup.load.join(" → ")}`,
    );
    lines.push("");
    lines.push(`${"".padEnd(24)} ${"req/s".padStart(7)} ${"p99 ms".padStart(7)} ${"CPU µs/req".padStart(10)}  ${"× node".padStart(6)} ${"× nginx".padStart(7)} ${"CPU × node".padStart(10)}  ${"app µs".padStart(6)} ${"wrk µs".padStart(6)}  CPU µs/req by process`);
    for (const s of summaries) {
      if (s.rounds === 0) {
        lines.push(`${s.name.padEnd(24)} failed: ${s.error ?? "no samples"}`);
        continue;
      }
      const r = ratios[s.variant] ?? { rps_vs_node_proxy: Number.NaN, rps_vs_nginx: Number.NaN, cpu_vs_node_proxy: Number.NaN };
      const by = Object.entries(s.cpu_us_per_request)
        .map(([k, x]) => `${k} ${fmt(x, 1)}`)
        .join(", ");
      lines.push(
        `${s.name.padEnd(24)} ${fmt(s.rps).padStart(7)} ${fmt(s.p99_ms, 2).padStart(7)} ${(s.variant === "direct" ? "" : fmt(s.path_cpu_us_per_request, 1)).padStart(10)}  ${fmt(r.rps_vs_node_proxy, 2).padStart(6)} ${fmt(r.rps_vs_nginx, 2).padStart(7)} ${(s.variant === "direct" ? "" : fmt(r.cpu_vs_node_proxy, 2)).padStart(10)}  ${fmt(s.app_cpu_us_per_request, 1).padStart(6)} ${fmt(s.wrk_cpu_us_per_request, 1).padStart(6)}  ${by}${s.problems.length ? `  [${s.problems.join("; ")}]` : ""}`.trimEnd(),
      );
    }
    lines.push("");
    lines.push("CPU µs/req: the proxy processes on the path (proxy = the auth+proxy daemon, agent = the Application Service; their");
    lines.push("CPU until they are idle after the run, so queued audit events count); app and wrk are shown apart and in no ratio.");
    lines.push(`issue's figures (another machine): nginx ${ISSUE.nginx} req/s, minimal Node proxy ${ISSUE.node} req/s at ${ISSUE.nodeCpuUs} µs CPU/req`);
    for (const [v, g] of Object.entries(goals)) {
      lines.push(`goal: ${NAMES[v as VariantId]} req/s >= ${g.goal}× the minimal Node proxy: ${fmt(g.value, 2)} (${g.value >= g.goal ? "met" : "not met"})`);
    }
    process.stdout.write(`${lines.join("\n")}\n`);
  } finally {
    removeHostsLine(hosts);
    if (cluster) {
      const jsh = cluster.jsh.child;
      if (jsh.exitCode === null) {
        const exited = new Promise<void>((r) => jsh.once("exit", () => r()));
        jsh.kill("SIGTERM");
        // With the profiler preloaded, SIGTERM may only write the profile.
        await Promise.race([exited, sleep(3_000)]);
        if (jsh.exitCode === null) jsh.kill("SIGKILL");
      }
      await cluster.agent.stop();
      await cluster.d.stop();
    }
    for (const ch of children) ch.kill("SIGTERM");
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
