/**
 * Helpers for the database-access e2e tests: audit events as jctl prints them,
 * and `jsh proxy db` running in the background.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { BIN_PATH, type Daemon, freePort, ROOT, run } from "./cluster.ts";
import { eventually, type LoggedIn } from "./users.ts";

export type AuditEvent = Record<string, unknown> & { event: string; sid?: string; success?: boolean; error?: string };

/** Audit events of these types from the last hour (`jctl audit events --format=json`). */
export async function auditEvents(d: Daemon, ...types: string[]): Promise<AuditEvent[]> {
  const r = await run("jctl", [
    "--data-dir",
    d.dataDir,
    "audit",
    "events",
    "--since=1h",
    "--limit=5000",
    "--format=json",
    ...(types.length > 0 ? ["--type", ...types] : []),
  ]);
  if (r.code !== 0) throw new Error(`jctl audit events: ${r.stderr}`);
  return JSON.parse(r.stdout) as AuditEvent[];
}

/** Polls the audit log until `pick` finds an event; returns it. */
export async function auditedEvent(d: Daemon, types: string[], pick: (e: AuditEvent) => boolean, what: string, timeoutMs = 20_000): Promise<AuditEvent> {
  let found: AuditEvent | undefined;
  await eventually(
    async () => {
      found = (await auditEvents(d, ...types)).find(pick);
      return found !== undefined;
    },
    timeoutMs,
    what,
  );
  return found as AuditEvent;
}

export interface BackgroundProxyDb {
  port: number;
  output(): string;
  stop(): Promise<void>;
}

/** `jsh proxy db NAME --tunnel --port P` as the user, once it listens. */
export async function startJshProxyDb(u: LoggedIn, name: string, extra: string[] = []): Promise<BackgroundProxyDb> {
  const port = await freePort();
  const child: ChildProcess = spawn(process.execPath, [BIN_PATH("jsh"), "proxy", "db", name, "--tunnel", "--port", String(port), ...extra], {
    cwd: ROOT,
    env: { ...process.env, ...u.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout?.on("data", (b: Buffer) => (out += b.toString()));
  child.stderr?.on("data", (b: Buffer) => (out += b.toString()));
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  await eventually(async () => child.exitCode !== null || out.includes(`127.0.0.1:${port}`), 20_000, `jsh proxy db ${name} to listen`).catch((e: unknown) => {
    child.kill("SIGKILL");
    throw new Error(`${e instanceof Error ? e.message : String(e)}: ${out}`);
  });
  if (child.exitCode !== null) throw new Error(`jsh proxy db ${name} exited (${child.exitCode}): ${out}`);
  return {
    port,
    output: () => out,
    stop: async () => {
      if (child.exitCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}
