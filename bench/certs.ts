/**
 * Certificate issuance throughput, side by side with raw Ed25519 signing.
 *
 * Starts a real daemon (temporary data dir, loopback ports) through the test
 * harness, creates a user with the `access` role, and asks the Auth API for
 * certificate pairs (SSH + X.509) with the daemon's admin identity
 * (GenerateUserCerts), from several concurrent clients, each request with a
 * fresh client key pair generated before the clock starts. In the same run it
 * measures how fast `node:crypto` signs a ~300-byte message with Ed25519 on one
 * thread, and prints the ratio. See bench/README.md.
 *
 *   npx tsx bench/certs.ts [--clients 4] [--client h2|connect] [--concurrency 16] [--duration 10]
 *                          [--warmup 2] [--sign-seconds 3] [--max-keys N] [--cpu-prof DIR] [--json]
 *
 * Every flag also reads an environment variable: BENCH_CLIENTS, BENCH_CLIENT,
 * BENCH_CONCURRENCY, BENCH_DURATION, BENCH_WARMUP, BENCH_SIGN_SECONDS,
 * BENCH_MAX_KEYS, BENCH_CPU_PROF, BENCH_JSON=1. `--client h2` (the default) sends
 * the gRPC calls with a lean node:http2 client (bench/grpc-h2.ts), `--client
 * connect` with the Connect client jctl and jsh use, which costs several times
 * more CPU per call and, on a small machine, measures itself as much as the
 * daemon. `--cpu-prof DIR` profiles the daemon during the timed run (through
 * bench/cpu-prof.mjs) and leaves the profile in DIR (Chrome DevTools, speedscope).
 */
import { execFile } from "node:child_process";
import crypto from "node:crypto";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { type AuthClient, createAuthClient } from "../src/api/authclient.ts";
import { AuthService } from "../src/api/gen/jumpgate/v1/auth_pb.ts";
import { parseIdentityFile } from "../src/lib/client/identityfile.ts";
import { cleanup, type Daemon, startDaemon } from "../test/harness/cluster.ts";
import { GrpcH2Client } from "./grpc-h2.ts";

const GOAL_RATIO = 0.2;
const BENCH_USER = "bench";

interface Options {
  clients: number;
  client: "h2" | "connect";
  concurrency: number;
  durationS: number;
  warmupS: number;
  signSeconds: number;
  maxKeys: number;
  json: boolean;
  cpuProfDir: string | undefined;
}

function options(): Options {
  const { values } = parseArgs({
    options: {
      clients: { type: "string" },
      client: { type: "string" },
      concurrency: { type: "string" },
      duration: { type: "string" },
      warmup: { type: "string" },
      "sign-seconds": { type: "string" },
      "max-keys": { type: "string" },
      json: { type: "boolean" },
      "cpu-prof": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    process.stdout.write(
      "usage: npx tsx bench/certs.ts [--clients N] [--client h2|connect] [--concurrency N] [--duration S] [--warmup S] [--sign-seconds S] [--max-keys N] [--cpu-prof DIR] [--json]\n",
    );
    process.exit(0);
  }
  const num = (flag: string | undefined, env: string, dflt: number, min: number): number => {
    const raw = flag ?? process.env[env];
    if (raw === undefined || raw === "") return dflt;
    const n = Number(raw);
    if (!Number.isFinite(n) || n < min) throw new Error(`bad value ${JSON.stringify(raw)} for ${env}`);
    return n;
  };
  return {
    clients: Math.floor(num(values.clients, "BENCH_CLIENTS", 4, 1)),
    client: clientKind(values.client ?? process.env.BENCH_CLIENT ?? "h2"),
    concurrency: Math.floor(num(values.concurrency, "BENCH_CONCURRENCY", 16, 1)),
    durationS: num(values.duration, "BENCH_DURATION", 10, 0.1),
    warmupS: num(values.warmup, "BENCH_WARMUP", 2, 0),
    signSeconds: num(values["sign-seconds"], "BENCH_SIGN_SECONDS", 3, 0.1),
    maxKeys: Math.floor(num(values["max-keys"], "BENCH_MAX_KEYS", 250_000, 1)),
    json: values.json ?? process.env.BENCH_JSON === "1",
    cpuProfDir: values["cpu-prof"] ?? (process.env.BENCH_CPU_PROF || undefined),
  };
}

let phase = "starting";
function clientKind(v: string): "h2" | "connect" {
  if (v !== "h2" && v !== "connect") throw new Error(`--client: want h2 or connect, not ${JSON.stringify(v)}`);
  return v;
}

/** One connection to the Auth API that asks for certificates. */
interface Issuer {
  generateUserCerts(req: { user: string; sshPublicKey: string; tlsPublicKey: string }): Promise<{ sshCert: string; tlsCert: string }>;
  close(): void;
}

function h2Issuer(addr: string, id: { key: string; cert: string; cas: string[] }): Issuer {
  const c = new GrpcH2Client(addr, id);
  const m = AuthService.method.generateUserCerts;
  return {
    generateUserCerts: (req) => c.unary(`/${AuthService.typeName}/${m.name}`, m.input, m.output, req),
    close: () => c.close(),
  };
}

const log = (msg: string) => {
  phase = msg;
  process.stderr.write(`bench: ${msg}\n`);
};

// ---- client key pairs, generated before timing (in two child processes: both cores are idle then) ----

interface PublicKeys {
  sshPublicKey: string;
  tlsPublicKey: string;
}

// Plain JavaScript in a plain `node`. The keys come out encoded (DER, PEM) rather than as
// KeyObjects: on Node 20, exporting a freshly generated Ed25519 KeyObject as JWK can deadlock
// when garbage collection runs inside the export (a KeyGenJob destructor takes the same lock).
const KEYGEN = `
const crypto = require("node:crypto");
const str = (b) => { const l = Buffer.alloc(4); l.writeUInt32BE(b.length); return Buffer.concat([l, b]); };
const enc = (pub) => ({ publicKeyEncoding: { type: "spki", format: pub }, privateKeyEncoding: { type: "pkcs8", format: "der" } });
const out = [];
for (let i = 0; i < Number(process.argv[1]); i++) {
  const ed = crypto.generateKeyPairSync("ed25519", enc("der")).publicKey;
  const blob = Buffer.concat([str(Buffer.from("ssh-ed25519")), str(ed.subarray(ed.length - 32))]);
  const ec = crypto.generateKeyPairSync("ec", { namedCurve: "prime256v1", ...enc("pem") }).publicKey;
  out.push(["ssh-ed25519 " + blob.toString("base64"), ec]);
}
process.stdout.write(JSON.stringify(out));
`;

async function generateKeys(n: number): Promise<PublicKeys[]> {
  const procs = 2;
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const parts = await Promise.all(
    Array.from({ length: procs }, (_, i) => {
      const count = Math.floor(n / procs) + (i < n % procs ? 1 : 0);
      return new Promise<[string, string][]>((resolve, reject) => {
        execFile(process.execPath, ["-e", KEYGEN, String(count)], { env, maxBuffer: 1 << 30, timeout: 120_000 }, (err, stdout) => {
          if (err) return reject(new Error(`generating client keys failed: ${err.message}`));
          resolve(JSON.parse(stdout) as [string, string][]);
        });
      });
    }),
  );
  return parts.flat().map(([sshPublicKey, tlsPublicKey]) => ({ sshPublicKey, tlsPublicKey }));
}

// ---- raw Ed25519 ----

/** CPU seconds a process has used so far (Linux /proc), or undefined elsewhere. */
function cpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime and stime, fields 14 and 15 of the whole line, in clock ticks (100 per second on Linux).
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

/**
 * Ed25519 signs per second on this thread: `wall` over the whole run, `best` in
 * its fastest quarter-second (what the machine does when nothing else
 * interrupts; the ratio uses it, so other load cannot flatter the ratio), and
 * `cpu` per CPU second.
 */
function ed25519SignsPerSecond(seconds: number): { wall: number; best: number; cpu: number } {
  const { privateKey } = crypto.generateKeyPairSync("ed25519", { privateKeyEncoding: { type: "pkcs8", format: "der" }, publicKeyEncoding: { type: "spki", format: "der" } });
  const key = crypto.createPrivateKey({ key: privateKey, format: "der", type: "pkcs8" });
  const msg = crypto.randomBytes(300);
  for (let i = 0; i < 2000; i++) crypto.sign(null, msg, key); // warm up
  const start = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  const end = start + BigInt(Math.round(seconds * 1e9));
  let n = 0;
  let best = 0;
  let now = start;
  let sliceStart = start;
  let sliceN = 0;
  while (now < end) {
    for (let i = 0; i < 100; i++) crypto.sign(null, msg, key);
    n += 100;
    sliceN += 100;
    now = process.hrtime.bigint();
    if (now - sliceStart >= 250_000_000n) {
      best = Math.max(best, sliceN / (Number(now - sliceStart) / 1e9));
      sliceStart = now;
      sliceN = 0;
    }
  }
  const cpu1 = process.cpuUsage(cpu0);
  const wall = n / (Number(now - start) / 1e9);
  return { wall, best: Math.max(best, wall), cpu: n / ((cpu1.user + cpu1.system) / 1e6) };
}

// ---- issuance ----

interface RunResult {
  ok: number;
  errors: number;
  firstError?: string;
  seconds: number;
  latenciesMs: Float64Array;
  keysReused: number;
}

async function issue(clients: Issuer[], concurrency: number, keys: PublicKeys[], seconds: number): Promise<RunResult> {
  let next = 0;
  let ok = 0;
  let errors = 0;
  let keysReused = 0;
  let firstError: string | undefined;
  const lat: number[] = [];
  const start = performance.now();
  const stopAt = start + seconds * 1000;
  const loop = async (client: Issuer) => {
    while (performance.now() < stopAt) {
      if (next >= keys.length) keysReused++;
      const k = keys[next++ % keys.length] as PublicKeys;
      const t0 = performance.now();
      try {
        const r = await client.generateUserCerts({ user: BENCH_USER, sshPublicKey: k.sshPublicKey, tlsPublicKey: k.tlsPublicKey });
        if (!r.sshCert || !r.tlsCert) throw new Error("empty certificate in the response");
        ok++;
        lat.push(performance.now() - t0);
      } catch (e) {
        errors++;
        firstError ??= e instanceof Error ? e.message : String(e);
        if (errors > 1000) throw new Error(`too many errors; first: ${firstError}`);
      }
    }
  };
  await Promise.all(clients.flatMap((c) => Array.from({ length: concurrency }, () => loop(c))));
  const elapsed = (performance.now() - start) / 1000;
  const latenciesMs = Float64Array.from(lat).sort();
  return { ok, errors, seconds: elapsed, latenciesMs, keysReused, ...(firstError === undefined ? {} : { firstError }) };
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

async function waitForFile(path: string, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!existsSync(path)) {
    if (Date.now() > deadline) throw new Error(`${path} did not appear`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function main(): Promise<void> {
  const o = options();
  let daemon: Daemon | undefined;
  const clients: Issuer[] = [];
  let admin: AuthClient | undefined;
  // A benchmark must not hang a shared machine: give up well after the run should have ended.
  const limitS = 120 + o.warmupS + o.durationS + o.signSeconds;
  const watchdog = setTimeout(() => {
    process.stderr.write(`bench: gave up after ${limitS} s while ${phase}\n`);
    if (daemon?.child.exitCode === null) daemon.child.kill("SIGKILL");
    process.exit(2);
  }, limitS * 1000);
  watchdog.unref();
  try {
    log("starting the daemon");
    const prof = o.cpuProfDir ? resolve(o.cpuProfDir) : undefined;
    if (prof) mkdirSync(prof, { recursive: true });
    const preload = pathToFileURL(join(import.meta.dirname, "cpu-prof.mjs")).href;
    daemon = await startDaemon(prof ? { env: { NODE_OPTIONS: `--import=${preload}`, BENCH_CPU_PROF_DIR: prof } } : {});
    log(`daemon pid ${daemon.child.pid}, Auth API at ${daemon.authAddr}`);
    const idPath = join(daemon.dataDir, "admin", "identity");
    await waitForFile(idPath, 30_000);
    const id = parseIdentityFile(readFileSync(idPath, "utf8"), idPath);
    const tlsIdentity = { key: id.tlsKey.export({ format: "pem", type: "pkcs8" }).toString(), cert: id.tlsCert, cas: id.tlsCas };
    admin = createAuthClient({ addr: daemon.authAddr, identity: tlsIdentity, timeoutMs: 60_000 });
    for (let i = 0; i < o.clients; i++) {
      clients.push(
        o.client === "h2" ? h2Issuer(daemon.authAddr, tlsIdentity) : createAuthClient({ addr: daemon.authAddr, identity: tlsIdentity, timeoutMs: 60_000 }),
      );
    }
    await admin.createUser({ name: BENCH_USER, roles: ["access"], traits: { logins: { values: [BENCH_USER, "root"] } } });

    // Warm-up, with a small pool of keys; its rate sizes the pool for the timed run.
    log("generating key pairs for the warm-up");
    const warmKeys = await generateKeys(Math.min(o.maxKeys, 2000));
    let warmRate = 1000;
    if (o.warmupS > 0) {
      log(`warming up for ${o.warmupS} s`);
      const w = await issue(clients, o.concurrency, warmKeys, o.warmupS);
      if (w.ok === 0) throw new Error(`warm-up issued nothing: ${w.firstError ?? "no response"}`);
      warmRate = w.ok / w.seconds;
    }
    // Three times the warm-up rate: the timed run is often faster (JIT, caches).
    const want = Math.min(o.maxKeys, Math.max(4000, Math.ceil(warmRate * o.durationS * 3)));
    log(`generating ${want} client key pairs`);
    const keys = await generateKeys(want);

    log(`measuring raw Ed25519 signing for ${o.signSeconds} s`);
    const ed = ed25519SignsPerSecond(o.signSeconds);
    const signs = ed.best;

    log(`issuing for ${o.durationS} s with ${o.clients} ${o.client} clients x ${o.concurrency} concurrent requests`);
    if (o.cpuProfDir) daemon.child.kill("SIGUSR2");
    const daemonCpu0 = cpuSeconds(daemon.child.pid);
    const clientCpu0 = process.cpuUsage();
    const r = await issue(clients, o.concurrency, keys, o.durationS);
    const clientCpu1 = process.cpuUsage(clientCpu0);
    const daemonCpu1 = cpuSeconds(daemon.child.pid);
    const daemonCpu = daemonCpu0 === undefined || daemonCpu1 === undefined ? undefined : daemonCpu1 - daemonCpu0;
    if (o.cpuProfDir) await daemon.stop();
    const pairs = r.ok / r.seconds;
    const ratio = pairs / signs;
    const result = {
      clients: o.clients,
      client: o.client,
      concurrency: o.concurrency,
      seconds: Number(r.seconds.toFixed(2)),
      pairs: r.ok,
      errors: r.errors,
      pairsPerSecond: Math.round(pairs),
      ed25519SignsPerSecond: Math.round(signs),
      ed25519SignsPerSecondAverage: Math.round(ed.wall),
      ratio: Number(ratio.toFixed(4)),
      p50Ms: Number(percentile(r.latenciesMs, 50).toFixed(2)),
      p99Ms: Number(percentile(r.latenciesMs, 99).toFixed(2)),
      keysReused: r.keysReused,
      // Less sensitive to other load on the machine: the daemon's CPU time per pair against Ed25519 signs per CPU second.
      daemonCpuUsPerPair: daemonCpu === undefined || r.ok === 0 ? null : Math.round((daemonCpu * 1e6) / r.ok),
      daemonCores: daemonCpu === undefined ? null : Number((daemonCpu / r.seconds).toFixed(2)),
      clientCpuUsPerPair: r.ok === 0 ? null : Math.round((clientCpu1.user + clientCpu1.system) / r.ok),
      ed25519SignsPerCpuSecond: Math.round(ed.cpu),
      cpuRatio: daemonCpu === undefined || daemonCpu === 0 ? null : Number((r.ok / daemonCpu / ed.cpu).toFixed(4)),
      goalRatio: GOAL_RATIO,
      goalMet: ratio >= GOAL_RATIO,
    };
    if (o.json) {
      process.stdout.write(`${JSON.stringify(result)}\n`);
    } else {
      const lines = [
        `certificate pairs (SSH + X.509): ${result.pairsPerSecond} pairs/s  (${r.ok} in ${result.seconds} s, ${o.clients} ${o.client} clients x ${o.concurrency} concurrent, ${r.errors} errors)`,
        `raw Ed25519 sign (node:crypto, 1 thread, 300 B): ${result.ed25519SignsPerSecond} signs/s (best quarter-second; ${result.ed25519SignsPerSecondAverage} on average)`,
        `ratio: ${result.ratio.toFixed(3)}`,
        `latency: p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms`,
        ...(result.daemonCpuUsPerPair === null
          ? []
          : [
              `daemon CPU: ${result.daemonCpuUsPerPair} µs per pair (${result.daemonCores} cores busy), bench clients: ${result.clientCpuUsPerPair} µs per pair; Ed25519: ${result.ed25519SignsPerCpuSecond} signs per CPU second; CPU ratio: ${result.cpuRatio?.toFixed(3)}`,
            ]),
        ...(r.keysReused > 0 ? [`note: ${r.keysReused} requests reused a client key (raise --max-keys)`] : []),
        ...(r.firstError ? [`first error: ${r.firstError}`] : []),
        `goal: ratio >= ${GOAL_RATIO} (${result.goalMet ? "met" : "not met"})`,
      ];
      process.stdout.write(`${lines.join("\n")}\n`);
    }
    if (r.errors > 0) process.exitCode = 1;
  } finally {
    log("stopping");
    for (const c of clients) c.close();
    admin?.close();
    if (daemon) {
      await daemon.stop();
      cleanup(daemon.dataDir);
    }
  }
}

await main();
