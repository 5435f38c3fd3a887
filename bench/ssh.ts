/**
 * SSH through Jumpgate side by side with OpenSSH's ProxyJump, on loopback.
 *
 * Starts a real daemon (auth + proxy, one process) and a node agent in its own
 * process that reaches the proxy through a reverse tunnel, logs a user in, and
 * starts two stock OpenSSH sshd (a bastion and a target) with a plain key. Then,
 * in one run and alternating the variants round by round:
 *
 *   (a) latency of `true`: `jsh ssh NODE true`, `ssh NODE.CLUSTER true` through
 *       `jsh config`, `ssh -J bastion target true` and direct `ssh target true`;
 *   (b) throughput of `head -c SIZE /dev/zero` (stdout to /dev/null) through
 *       `jsh ssh`, through `ssh` via `jsh config`, through ProxyJump and direct,
 *       for each cipher (the cipher applies to OpenSSH clients; the ssh2 hops
 *       negotiate their own, printed);
 *   (c) CPU seconds of the proxy process and of the node process per login and
 *       per GiB (from /proc/PID/stat before and after each run), next to the
 *       OpenSSH bastion's and target's (sshd and its children).
 *
 * Prints medians (CPU: means) and ratios against the ProxyJump path.
 *
 *   node --import tsx bench/ssh.ts [--rounds 5] [--latency-rounds 10] [--size 1G] [--ciphers aes128-gcm@openssh.com,chacha20-poly1305@openssh.com] [--json]
 *
 * Every flag also reads an environment variable: BENCH_ROUNDS, BENCH_LATENCY_ROUNDS,
 * BENCH_SIZE, BENCH_CIPHERS, BENCH_JSON=1. Needs root (the logins are root), OpenSSH's
 * client and server (bench/ssh.sh installs them when missing) and Linux /proc.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { BIN_PATH, cleanup, type Daemon, run, shebangNodeFlags, startAgent, startDaemon, tempDir, type Agent } from "../test/harness/cluster.ts";
import { type Sshd, startSshd } from "../test/harness/sshd.ts";
import { eventually, type LoggedIn, userLoggedIn } from "../test/harness/users.ts";

const NODE = "bench-node";
const CLUSTER = "test.local";
const DEFAULT_CIPHERS = ["aes128-gcm@openssh.com", "chacha20-poly1305@openssh.com"];
const LATENCY_GOAL = 1.0;
const THROUGHPUT_GOAL = 0.9;

interface Options {
  rounds: number;
  latencyRounds: number;
  sizeBytes: number;
  sizeText: string;
  ciphers: string[];
  json: boolean;
  skipLatency: boolean;
  skipThroughput: boolean;
  /** Variant ids to run: jsh, config, jump, direct. */
  only: Set<string>;
  cpuProfDir: string | undefined;
  /** Set everything up, print how to reach it, and wait for Ctrl-C (for profiling by hand). */
  hold: boolean;
}

function parseSize(s: string): number {
  const m = /^(\d+(?:\.\d+)?)([KMG]?)i?B?$/i.exec(s.trim());
  if (!m) throw new Error(`bad size ${JSON.stringify(s)}: want e.g. 1G, 256M, 4096`);
  const mult = { "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[(m[2] ?? "").toUpperCase() as "" | "K" | "M" | "G"];
  return Math.round(Number(m[1]) * mult);
}

function options(): Options {
  const { values } = parseArgs({
    options: {
      rounds: { type: "string" },
      "latency-rounds": { type: "string" },
      size: { type: "string" },
      ciphers: { type: "string" },
      json: { type: "boolean" },
      "skip-latency": { type: "boolean" },
      "skip-throughput": { type: "boolean" },
      variants: { type: "string" },
      "cpu-prof": { type: "string" },
      hold: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    process.stdout.write(
      "usage: node --import tsx bench/ssh.ts [--rounds N] [--latency-rounds N] [--size 1G] [--ciphers A,B] [--variants jsh,config,jump,direct] [--skip-latency] [--skip-throughput] [--cpu-prof DIR] [--json]\n",
    );
    process.exit(0);
  }
  const int = (flag: string | undefined, env: string, dflt: number): number => {
    const raw = flag ?? process.env[env];
    if (raw === undefined || raw === "") return dflt;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1) throw new Error(`bad value ${JSON.stringify(raw)} for ${env}`);
    return n;
  };
  const sizeText = values.size ?? process.env.BENCH_SIZE ?? "1G";
  const ciphers = (values.ciphers ?? process.env.BENCH_CIPHERS ?? DEFAULT_CIPHERS.join(","))
    .split(",")
    .map((c) => c.trim())
    .filter(Boolean);
  return {
    rounds: int(values.rounds, "BENCH_ROUNDS", 5),
    latencyRounds: int(values["latency-rounds"], "BENCH_LATENCY_ROUNDS", 10),
    sizeBytes: parseSize(sizeText),
    sizeText,
    ciphers,
    json: values.json ?? process.env.BENCH_JSON === "1",
    skipLatency: values["skip-latency"] ?? false,
    skipThroughput: values["skip-throughput"] ?? false,
    only: new Set((values.variants ?? process.env.BENCH_VARIANTS ?? "jsh,config,jump,direct").split(",").map((v) => v.trim())),
    cpuProfDir: values["cpu-prof"] ?? (process.env.BENCH_CPU_PROF || undefined),
    hold: values.hold ?? false,
  };
}

const log = (msg: string) => process.stderr.write(`bench: ${msg}\n`);

// ---- /proc ----

const CLK_TCK = Number(spawnSync("getconf", ["CLK_TCK"]).stdout?.toString().trim()) || 100;

/** CPU seconds of a process (utime+stime) and, with `children`, of its waited-for descendants too. */
function cpuSeconds(pid: number | undefined, children = false): number {
  if (pid === undefined) return Number.NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // Fields 14–17 of the line: utime, stime, cutime, cstime.
    const own = Number(f[11]) + Number(f[12]);
    return (children ? own + Number(f[13]) + Number(f[14]) : own) / CLK_TCK;
  } catch {
    return Number.NaN;
  }
}

/** The pid of the listening sshd the harness started with `DIR/sshd_config` (sshd rewrites its title, so match the text). */
function sshdPid(dir: string): number | undefined {
  const config = join(dir, "sshd_config");
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, "utf8").replaceAll("\0", " ");
      if (!cmd.includes(config)) continue;
      // The listener is our child; its per-connection children are its own.
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      if (Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === process.pid) return Number(d);
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

/**
 * A cgroup v1 cpuacct group for the client commands, so that processes ssh leaves behind (its
 * ProxyCommand, `ssh -W`) count too. Undefined where cgroups cannot be made (then bash's `times`).
 */
let clientCgroup: string | undefined;

function makeClientCgroup(): void {
  for (const base of ["/sys/fs/cgroup/cpuacct", "/sys/fs/cgroup/cpu,cpuacct"]) {
    const dir = join(base, `jg-bench-ssh-${process.pid}`);
    try {
      mkdirSync(dir);
      readFileSync(join(dir, "cpuacct.usage"), "utf8");
      clientCgroup = dir;
      return;
    } catch {
      // not this one
    }
  }
}

function removeClientCgroup(): void {
  if (!clientCgroup) return;
  try {
    rmdirSync(clientCgroup);
  } catch {
    // a straggler still in it; the kernel keeps an empty group harmlessly
  }
}

/** CPU seconds used in the client cgroup so far. */
function cgroupCpu(): number {
  if (!clientCgroup) return Number.NaN;
  return Number(readFileSync(join(clientCgroup, "cpuacct.usage"), "utf8")) / 1e9;
}

// ---- stats ----

function median(xs: number[]): number {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

function mean(xs: number[]): number {
  const s = xs.filter((x) => Number.isFinite(x));
  return s.length ? s.reduce((a, b) => a + b, 0) / s.length : Number.NaN;
}

// ---- the setup ----

interface Setup {
  work: string;
  daemon: Daemon;
  agent: Agent;
  user: LoggedIn;
  bastion: Sshd;
  target: Sshd;
  bastionPid: number | undefined;
  targetPid: number | undefined;
  /** ssh_config per cipher: bastion, target and the `jsh config` block. */
  configs: Map<string, string>;
}

function sh(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { stdio: ["ignore", "ignore", "pipe"] });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${r.stderr?.toString()}`);
}

async function setUp(ciphers: string[], cpuProfDir: string | undefined): Promise<Setup> {
  const work = tempDir("bench-ssh");
  makeClientCgroup();
  // With --cpu-prof, the daemon and the agent preload bench/cpu-prof.mjs (started by SIGUSR2, written at SIGTERM).
  const profEnv: Record<string, string> = {};
  if (cpuProfDir) {
    mkdirSync(cpuProfDir, { recursive: true });
    profEnv.NODE_OPTIONS = `--import=${pathToFileURL(join(import.meta.dirname, "cpu-prof.mjs")).href}`;
    profEnv.BENCH_CPU_PROF_DIR = resolve(cpuProfDir);
  }
  log("starting auth+proxy");
  const daemon = await startDaemon({ extraArgs: ["--roles", "auth,proxy"], env: profEnv });
  const user = await userLoggedIn(daemon, "bench", "access", "root");
  const tok = await run("jctl", ["--data-dir", daemon.dataDir, "tokens", "add", "--type=node", "--ttl=10m", "--format=json"]);
  if (tok.code !== 0) throw new Error(`jctl tokens add: ${tok.stderr}`);
  const { token } = JSON.parse(tok.stdout) as { token: string };
  writeFileSync(join(work, "agent.yaml"), `version: v3\njumpgate:\n  nodename: ${NODE}\nssh_service:\n  enabled: yes\n`);
  log("starting the node agent (its own process, reverse tunnel)");
  // startAgent passes this process's environment on.
  const saved = { ...process.env };
  Object.assign(process.env, profEnv);
  const agent = await startAgent({ proxyAddr: daemon.proxyAddr, token, config: join(work, "agent.yaml") }).finally(() => {
    for (const k of Object.keys(profEnv)) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  });
  await eventually(
    async () => ((await user.jsh(["ls", "--format=json"])).stdout.match(new RegExp(`"${NODE}"`)) ?? []).length > 0,
    30_000,
    "the node in jsh ls",
  );

  log("starting OpenSSH bastion and target");
  const key = join(work, "id_ed25519");
  sh("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", key]);
  writeFileSync(join(work, "authorized_keys"), readFileSync(`${key}.pub`));
  const sshdFor = async (name: string) => {
    const dir = join(work, name);
    mkdirSync(dir);
    sh("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(dir, "host")]);
    return startSshd(dir, [
      `HostKey ${join(dir, "host")}`,
      `AuthorizedKeysFile ${join(work, "authorized_keys")}`,
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "PermitRootLogin prohibit-password",
      "AllowTcpForwarding yes",
      "UseDNS no",
    ]);
  };
  const bastion = await sshdFor("bastion");
  const target = await sshdFor("target");

  const jshBlock = await user.jsh(["config"]);
  if (jshBlock.code !== 0) throw new Error(`jsh config: ${jshBlock.stderr}`);
  const configs = new Map<string, string>();
  for (const cipher of ciphers) {
    const file = join(work, `ssh_config.${cipher.replace(/[^a-z0-9]+/gi, "_")}`);
    const host = (name: string, port: number) =>
      [
        `Host ${name}`,
        "    HostName 127.0.0.1",
        `    Port ${port}`,
        "    User root",
        `    IdentityFile ${key}`,
        "    IdentitiesOnly yes",
        "    StrictHostKeyChecking no",
        "    UserKnownHostsFile /dev/null",
      ].join("\n");
    writeFileSync(
      file,
      [
        host("bastion", bastion.port),
        host("target", target.port),
        jshBlock.stdout,
        "Host *",
        "    KexAlgorithms curve25519-sha256",
        `    Ciphers ${cipher}`,
        "    BatchMode yes",
        "    LogLevel ERROR",
        "    ControlMaster no",
        "    ControlPath none",
        "    Compression no",
        "",
      ].join("\n"),
    );
    configs.set(cipher, file);
  }
  return {
    work,
    daemon,
    agent,
    user,
    bastion,
    target,
    bastionPid: sshdPid(join(work, "bastion")),
    targetPid: sshdPid(join(work, "target")),
    configs,
  };
}

async function tearDown(s: Partial<Setup>): Promise<void> {
  removeClientCgroup();
  await s.bastion?.stop();
  await s.target?.stop();
  await s.agent?.stop();
  await s.daemon?.stop();
  cleanup(s.work ?? "", s.daemon?.dataDir ?? "", s.agent?.dataDir ?? "", s.user?.home ?? "");
}

// ---- one run ----

interface Variant {
  name: string;
  /** argv and extra env for a remote command. */
  argv(command: string): { file: string; args: string[]; env?: Record<string, string> };
  /** Which processes of ours or of OpenSSH's carry it (for CPU). */
  kind: "jumpgate" | "proxyjump" | "direct";
  cipher?: string;
}

interface Sample {
  wallS: number;
  /** The client command with its children (ssh's ProxyCommand, `ssh -W`), from bash's `times`. */
  clientCpu: number;
  proxyCpu: number;
  nodeCpu: number;
  bastionCpu: number;
  targetCpu: number;
}

function variants(s: Setup, cipher: string): { jsh: Variant; jshConfig: Variant; proxyJump: Variant; direct: Variant } {
  const cfg = s.configs.get(cipher) as string;
  const ssh = (...a: string[]) => (command: string) => ({ file: "ssh", args: ["-F", cfg, ...a, command] });
  return {
    jsh: {
      name: "jsh ssh",
      kind: "jumpgate",
      argv: (command) => ({ file: process.execPath, args: [...shebangNodeFlags(BIN_PATH("jsh")), BIN_PATH("jsh"), "ssh", `root@${NODE}`, command], env: s.user.env }),
    },
    jshConfig: { name: "ssh via jsh config", kind: "jumpgate", cipher, argv: ssh(`root@${NODE}.${CLUSTER}`) },
    proxyJump: { name: "ssh -J bastion target", kind: "proxyjump", cipher, argv: ssh("-J", "bastion", "target") },
    direct: { name: "ssh target (direct)", kind: "direct", cipher, argv: ssh("target") },
  };
}

function pick(o: Options, v: ReturnType<typeof variants>): Variant[] {
  const all: [string, Variant][] = [
    ["jsh", v.jsh],
    ["config", v.jshConfig],
    ["jump", v.proxyJump],
    ["direct", v.direct],
  ];
  return all.filter(([id]) => o.only.has(id)).map(([, x]) => x);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs the command with stdout to /dev/null (or counted, with `count`), measuring wall time and CPU. */
async function once(s: Setup, v: Variant, command: string, count = false): Promise<Sample & { bytes?: number }> {
  const { file, args, env } = v.argv(command);
  const cpu = () => ({
    proxy: cpuSeconds(s.daemon.child.pid),
    node: cpuSeconds(s.agent.child.pid),
    bastion: cpuSeconds(s.bastionPid, true),
    target: cpuSeconds(s.targetPid, true),
  });
  const devnull = openSync("/dev/null", "w");
  const before = cpu();
  const t0 = process.hrtime.bigint();
  let bytes = 0;
  let stderr = "";
  // Through bash, which joins the client cgroup first (when there is one) and tells its children's CPU
  // with `times` (ssh does not wait for its ProxyCommand or `ssh -W`, so only the cgroup sees those).
  const enter = clientCgroup ? `echo $$ > ${clientCgroup}/tasks; ` : "";
  const cg0 = cgroupCpu();
  const child: ChildProcess = spawn("bash", ["-c", `${enter}"$@"; rc=$?; times >&2; exit $rc`, "bench", file, ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", count ? "pipe" : devnull, "pipe"],
  });
  child.stdout?.on("data", (d: Buffer) => {
    bytes += d.length;
  });
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (c) => resolve(c));
  });
  const wallS = Number(process.hrtime.bigint() - t0) / 1e9;
  closeSync(devnull);
  if (code !== 0) throw new Error(`${v.name} (${v.cipher ?? "ssh2"}) exited ${code}: ${stderr.trim()}`);
  const t = /(\d+)m([\d.]+)s (\d+)m([\d.]+)s\s*$/.exec(stderr);
  const timesCpu = t ? Number(t[1]) * 60 + Number(t[2]) + Number(t[3]) * 60 + Number(t[4]) : Number.NaN;
  // Let the servers finish closing the connection (and sshd reap its children) before reading CPU again.
  await sleep(250);
  const after = cpu();
  const clientCpu = clientCgroup ? cgroupCpu() - cg0 : timesCpu;
  return {
    wallS,
    clientCpu,
    proxyCpu: after.proxy - before.proxy,
    nodeCpu: after.node - before.node,
    bastionCpu: after.bastion - before.bastion,
    targetCpu: after.target - before.target,
    ...(count ? { bytes } : {}),
  };
}

// ---- report ----

interface Row {
  variant: string;
  cipher: string;
  samples: Sample[];
}

function ssh2Cipher(): string {
  // Every ssh2 hop (jsh → proxy, proxy ↔ agent tunnel, and jsh → node end to end) is ssh2 on both
  // ends with default cipher lists, so each negotiates the first of ssh2's defaults.
  try {
    const r = spawnSync(process.execPath, ["-e", "process.stdout.write(require('ssh2/lib/protocol/constants.js').DEFAULT_CIPHER[0])"], {
      cwd: join(import.meta.dirname, ".."),
    });
    return r.stdout.toString() || "?";
  } catch {
    return "?";
  }
}

const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : "-");

function main(): Promise<void> {
  const o = options();
  const state: Partial<Setup> = {};
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await tearDown(state);
  };
  process.once("SIGINT", () => void stop().then(() => process.exit(130)));
  return (async () => {
    try {
      Object.assign(state, await setUp(o.ciphers, o.cpuProfDir));
      const s = state as Setup;
      const negotiated = ssh2Cipher();
      if (o.hold) {
        process.stdout.write(
          `${JSON.stringify({ JSH_HOME: s.user.env.JSH_HOME, node: `root@${NODE}`, configs: Object.fromEntries(s.configs), proxyPid: s.daemon.child.pid, nodePid: s.agent.child.pid, proxyAddr: s.daemon.proxyAddr }, null, 2)}\n`,
        );
        await new Promise<void>((r) => process.once("SIGTERM", () => r()));
        return;
      }
      const first = o.ciphers[0] as string;

      // Sanity: every variant runs and delivers exactly the bytes asked for.
      log("checking every variant moves the right number of bytes");
      const checkBytes = 1024 * 1024 + 7;
      for (const cipher of o.ciphers) {
        const v = variants(s, cipher);
        for (const x of pick(o, v)) {
          if (x === v.jsh && cipher !== first) continue;
          const r = await once(s, x, `head -c ${checkBytes} /dev/zero`, true);
          if (r.bytes !== checkBytes) throw new Error(`${x.name} (${cipher}) delivered ${r.bytes} bytes, not ${checkBytes}`);
        }
      }

      const lat: Row[] = [];
      if (!o.skipLatency) {
        const v = variants(s, first);
        const order = pick(o, v);
        for (const x of order) lat.push({ variant: x.name, cipher: x === v.jsh ? `ssh2 ${negotiated}` : first, samples: [] });
        // One warm-up each (page cache, JIT of the daemon's paths).
        for (const x of order) await once(s, x, "true");
        for (let r = 0; r < o.latencyRounds; r++) {
          log(`latency round ${r + 1}/${o.latencyRounds}`);
          // Rotate the order every round so that no variant always goes first.
          for (let i = 0; i < order.length; i++) {
            const k = (i + r) % order.length;
            (lat[k] as Row).samples.push(await once(s, order[k] as Variant, "true"));
          }
        }
      }

      const thr: Row[] = [];
      if (!o.skipThroughput) {
        const list: Variant[] = [];
        for (const cipher of o.ciphers) {
          const v = variants(s, cipher);
          list.push(...pick(o, v).filter((x) => x !== v.jsh || cipher === first));
        }
        for (const x of list) thr.push({ variant: x.name, cipher: x.cipher ?? `ssh2 ${negotiated}`, samples: [] });
        const command = `head -c ${o.sizeBytes} /dev/zero`;
        if (o.cpuProfDir) {
          s.daemon.child.kill("SIGUSR2");
          s.agent.child.kill("SIGUSR2");
        }
        for (let r = 0; r < o.rounds; r++) {
          log(`throughput round ${r + 1}/${o.rounds} (${o.sizeText} each)`);
          for (let i = 0; i < list.length; i++) {
            const k = (i + r) % list.length;
            (thr[k] as Row).samples.push(await once(s, list[k] as Variant, command));
          }
        }
      }

      report(o, lat, thr, negotiated);
    } finally {
      await stop();
    }
  })();
}

/** Every process of a variant: the client and the servers on its path (the others' figures are ~0). */
const totalCpu = (x: Sample) => x.clientCpu + x.proxyCpu + x.nodeCpu + x.bastionCpu + x.targetCpu;

function report(o: Options, lat: Row[], thr: Row[], negotiated: string): void {
  const gib = o.sizeBytes / 1024 ** 3;
  const latency = lat.map((r) => ({
    variant: r.variant,
    cipher: r.cipher,
    medianMs: median(r.samples.map((x) => x.wallS * 1000)),
    minMs: Math.min(...r.samples.map((x) => x.wallS * 1000)),
    clientCpuPerLogin: mean(r.samples.map((x) => x.clientCpu)),
    totalCpuPerLogin: mean(r.samples.map(totalCpu)),
    proxyCpuPerLogin: mean(r.samples.map((x) => x.proxyCpu)),
    nodeCpuPerLogin: mean(r.samples.map((x) => x.nodeCpu)),
    bastionCpuPerLogin: mean(r.samples.map((x) => x.bastionCpu)),
    targetCpuPerLogin: mean(r.samples.map((x) => x.targetCpu)),
  }));
  const pjLat = latency.find((r) => r.variant.startsWith("ssh -J"))?.medianMs ?? Number.NaN;
  const throughput = thr.map((r) => ({
    variant: r.variant,
    cipher: r.cipher,
    medianMBps: median(r.samples.map((x) => o.sizeBytes / x.wallS / 1e6)),
    medianS: median(r.samples.map((x) => x.wallS)),
    clientCpuPerGiB: mean(r.samples.map((x) => x.clientCpu)) / gib,
    totalCpuPerGiB: mean(r.samples.map(totalCpu)) / gib,
    proxyCpuPerGiB: mean(r.samples.map((x) => x.proxyCpu)) / gib,
    nodeCpuPerGiB: mean(r.samples.map((x) => x.nodeCpu)) / gib,
    bastionCpuPerGiB: mean(r.samples.map((x) => x.bastionCpu)) / gib,
    targetCpuPerGiB: mean(r.samples.map((x) => x.targetCpu)) / gib,
  }));
  const pjFor = (cipher: string) =>
    throughput.find((r) => r.variant.startsWith("ssh -J") && r.cipher === cipher)?.medianMBps ?? Number.NaN;
  const ratioThr = (r: (typeof throughput)[number]) => r.medianMBps / pjFor(r.cipher.startsWith("ssh2") ? (o.ciphers[0] as string) : r.cipher);

  if (o.json) {
    process.stdout.write(
      `${JSON.stringify(
        {
          sizeBytes: o.sizeBytes,
          rounds: o.rounds,
          latencyRounds: o.latencyRounds,
          ssh2Cipher: negotiated,
          latency: latency.map((r) => ({ ...r, ratio: r.medianMs / pjLat })),
          throughput: throughput.map((r) => ({ ...r, ratio: ratioThr(r) })),
        },
        null,
        2,
      )}\n`,
    );
    return;
  }
  const out: string[] = [];
  const pad = (s: string, n: number) => s.padEnd(n);
  const lpad = (s: string, n: number) => s.padStart(n);
  out.push(`SSH on loopback: ${o.latencyRounds} latency rounds, ${o.rounds} throughput rounds of ${o.sizeText}; ssh2 hops negotiate ${negotiated}.`);
  out.push(`CPU: client = the command run (jsh, or ssh with its ProxyCommand / ssh -W), ${clientCgroup ? "from a cpuacct cgroup" : "from bash's `times` (no cgroup: misses ProxyCommand and ssh -W)"};`);
  out.push("     proxy = the auth+proxy daemon, node = the agent process (its own CPU, not its children);");
  out.push("     bastion/target = OpenSSH sshd with its per-connection children (target includes the command). Means.");
  if (latency.length) {
    out.push("");
    out.push(`(a) latency of \`true\` (median ms; goal: jsh ≤ ${LATENCY_GOAL.toFixed(1)}× ProxyJump)`);
    out.push(
      `${pad("variant", 24)}${pad("cipher", 34)}${lpad("median", 8)}${lpad("min", 8)}${lpad("× -J", 7)}${lpad("client s", 9)}${lpad("proxy s", 9)}${lpad("node s", 8)}${lpad("bast s", 8)}${lpad("targ s", 8)}${lpad("total s", 9)}`,
    );
    for (const r of latency) {
      out.push(
        `${pad(r.variant, 24)}${pad(r.cipher, 34)}${lpad(fmt(r.medianMs), 8)}${lpad(fmt(r.minMs), 8)}${lpad(fmt(r.medianMs / pjLat, 2), 7)}${lpad(fmt(r.clientCpuPerLogin, 3), 9)}${lpad(fmt(r.proxyCpuPerLogin, 3), 9)}${lpad(fmt(r.nodeCpuPerLogin, 3), 8)}${lpad(fmt(r.bastionCpuPerLogin, 3), 8)}${lpad(fmt(r.targetCpuPerLogin, 3), 8)}${lpad(fmt(r.totalCpuPerLogin, 3), 9)}`,
      );
    }
  }
  if (throughput.length) {
    out.push("");
    out.push(
      `(b) throughput of head -c ${o.sizeText} /dev/zero (median MB/s = 10^6 B/s over the whole command, login included; goal: ≥ ${THROUGHPUT_GOAL.toFixed(1)}× ProxyJump with the same cipher)`,
    );
    out.push("(c) CPU seconds per GiB (means, one login included)");
    out.push(
      `${pad("variant", 24)}${pad("cipher", 34)}${lpad("MB/s", 8)}${lpad("× -J", 7)}${lpad("client s", 9)}${lpad("proxy s", 9)}${lpad("node s", 8)}${lpad("bast s", 8)}${lpad("targ s", 8)}${lpad("total s", 9)}`,
    );
    for (const r of throughput) {
      out.push(
        `${pad(r.variant, 24)}${pad(r.cipher, 34)}${lpad(fmt(r.medianMBps), 8)}${lpad(fmt(ratioThr(r), 2), 7)}${lpad(fmt(r.clientCpuPerGiB, 2), 9)}${lpad(fmt(r.proxyCpuPerGiB, 2), 9)}${lpad(fmt(r.nodeCpuPerGiB, 2), 8)}${lpad(fmt(r.bastionCpuPerGiB, 2), 8)}${lpad(fmt(r.targetCpuPerGiB, 2), 8)}${lpad(fmt(r.totalCpuPerGiB, 2), 9)}`,
      );
    }
    out.push(`(jsh ssh is compared with ProxyJump on ${o.ciphers[0]}.)`);
  }
  process.stdout.write(`${out.join("\n")}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`bench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
});
