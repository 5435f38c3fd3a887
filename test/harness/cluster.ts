import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const ROOT = resolve(import.meta.dirname, "..", "..");
const BIN = (name: string) => join(ROOT, "bin", `${name}.js`);
export const BIN_PATH = BIN;

/**
 * The Node options in a bin script's `#!/usr/bin/env -S node ...` line, so that
 * spawning `node bin/X.js` runs it as executing the script itself would (e.g.
 * the daemon's V8 heap sizing, see bin/jumpgate.js).
 */
export function shebangNodeFlags(script: string): string[] {
  const first = readFileSync(script, "utf8").split("\n", 1)[0] ?? "";
  const m = /^#!\/usr\/bin\/env -S node((?: --[\w-]+(?:=\S+)?)*)\s*$/.exec(first);
  return m?.[1] ? m[1].trim().split(/\s+/) : [];
}

/** `node ARGS`, with the Node options of the script ARGS[0] first. */
function nodeArgs(args: string[]): string[] {
  return [...shebangNodeFlags(args[0] as string), ...args];
}

export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.once("error", rej);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => res(port));
    });
  });
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `jg-${prefix}-`));
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs one of our CLIs (or any program) to completion. */
export function run(
  cmd: string,
  args: string[],
  opts: { env?: Record<string, string>; input?: string; cwd?: string; timeoutMs?: number } = {},
): Promise<RunResult> {
  const isOurs = ["jumpgate", "jsh", "jctl"].includes(cmd);
  const file = isOurs ? process.execPath : cmd;
  const argv = isOurs ? [BIN(cmd), ...args] : args;
  return new Promise((res, rej) => {
    const child = spawn(file, argv, {
      cwd: opts.cwd ?? ROOT,
      env: { ...process.env, ...opts.env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 60_000);
    child.on("error", rej);
    child.on("close", (code) => {
      clearTimeout(timer);
      res({ code: code ?? -1, stdout, stderr });
    });
    // A short-lived program may exit before its input is written.
    child.stdin.on("error", () => undefined);
    child.stdin.end(opts.input ?? "");
  });
}

export interface Daemon {
  dataDir: string;
  proxyAddr: string;
  authAddr: string;
  child: ChildProcess;
  /** Everything the daemon printed on stdout. */
  stdout(): string;
  stderr(): string;
  stop(): Promise<number | null>;
  kill9(): Promise<void>;
}

export interface DaemonOptions {
  dataDir?: string;
  proxyPort?: number;
  authPort?: number;
  extraArgs?: string[];
  env?: Record<string, string>;
  config?: string;
  /** The proxy's public host (default 127.0.0.1); apps live at NAME.<host> (`localhost` gives browsers loopback subdomains). */
  publicHost?: string;
}

/** Starts `jumpgate start` on loopback ports and waits until the proxy answers. */
export async function startDaemon(o: DaemonOptions = {}): Promise<Daemon> {
  const dataDir = o.dataDir ?? tempDir("data");
  const proxyPort = o.proxyPort ?? (await freePort());
  const authPort = o.authPort ?? (await freePort());
  const args = [
    BIN("jumpgate"),
    "start",
    "--data-dir",
    dataDir,
    "--listen",
    `127.0.0.1:${proxyPort}`,
    "--auth-listen",
    `127.0.0.1:${authPort}`,
    "--public-addr",
    `${o.publicHost ?? "127.0.0.1"}:${proxyPort}`,
    ...(o.config ? ["--config", o.config] : ["--cluster-name", "test.local"]),
    ...(o.extraArgs ?? []),
  ];
  const child = spawn(process.execPath, nodeArgs(args), { cwd: ROOT, env: { ...process.env, ...o.env }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout?.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`jumpgate exited early (${child.exitCode}):\n${err}`);
    if (/Proxy Service is listening/.test(err) && (await canConnect(proxyPort))) break;
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`jumpgate did not start in time:\n${err}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    dataDir,
    proxyAddr: `127.0.0.1:${proxyPort}`,
    authAddr: `127.0.0.1:${authPort}`,
    child,
    stdout: () => out,
    stderr: () => err,
    stop: async () => {
      if (child.exitCode === null) child.kill("SIGTERM");
      return exited;
    },
    kill9: async () => {
      if (child.exitCode === null) child.kill("SIGKILL");
      await exited;
    },
  };
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((r) => {
    const s = net.connect(port, "127.0.0.1");
    s.once("connect", () => {
      s.destroy();
      r(true);
    });
    s.once("error", () => r(false));
  });
}

export function cleanup(...dirs: string[]): void {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}

export interface Agent {
  dataDir: string;
  child: ChildProcess;
  stderr(): string;
  stop(): Promise<number | null>;
  kill9(): Promise<void>;
}

/** Starts `jumpgate start --roles=node` that joins through the proxy and waits for its reverse tunnel. */
export async function startAgent(o: {
  proxyAddr: string;
  token?: string;
  dataDir?: string;
  config?: string;
  extraArgs?: string[];
  /** Default `node`. */
  roles?: string;
}): Promise<Agent> {
  const dataDir = o.dataDir ?? tempDir("agent");
  const args = [
    BIN("jumpgate"),
    "start",
    `--roles=${o.roles ?? "node"}`,
    "--data-dir",
    dataDir,
    "--proxy",
    o.proxyAddr,
    "--insecure",
    ...(o.token ? ["--token", o.token] : []),
    ...(o.config ? ["--config", o.config] : []),
    ...(o.extraArgs ?? []),
  ];
  const child = spawn(process.execPath, nodeArgs(args), { cwd: ROOT, stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  child.stderr?.on("data", (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  const deadline = Date.now() + 60_000;
  while (!/reverse tunnel: connected|SSH service is listening/.test(err)) {
    if (child.exitCode !== null) throw new Error(`agent exited early (${child.exitCode}):\n${err}`);
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`agent did not connect in time:\n${err}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    dataDir,
    child,
    stderr: () => err,
    stop: async () => {
      if (child.exitCode === null) child.kill("SIGTERM");
      return exited;
    },
    kill9: async () => {
      if (child.exitCode === null) child.kill("SIGKILL");
      await exited;
    },
  };
}
