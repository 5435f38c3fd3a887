/**
 * Runs `postgresEngine` on a local TCP listener with a hand-built
 * DbSessionContext (an `authorize` that refuses chosen users, `emit`
 * collecting events), and runs real clients (psql, pgbench) against it.
 */
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import net from "node:net";
import { pino } from "pino";
import { accessDenied } from "../../../../api/errors.ts";
import type { DatabaseTarget, DbSessionContext } from "../engine.ts";
import { postgresEngine } from "./server.ts";

export type Event = Record<string, unknown>;

export interface EngineUnderTest {
  port: number;
  events: Event[];
  /** Resolves when every session the listener accepted has ended. */
  settled(): Promise<void>;
  close(): Promise<void>;
}

export function target(over: Partial<DatabaseTarget> = {}): DatabaseTarget {
  return {
    name: "pg",
    protocol: "postgres",
    uri: "127.0.0.1:5432",
    labels: {},
    auth: {
      kind: "password",
      user: "postgres",
      password: "unused-the-server-trusts-127.0.0.1",
    },
    auditQueries: true,
    ...over,
  };
}

export async function startEngine(opts: {
  database: DatabaseTarget;
  refuse?: string[];
  credentials?: (user: string) => { cert: string; key: string; cas: string[] };
  user?: string;
}): Promise<EngineUnderTest> {
  const events: Event[] = [];
  const running = new Set<Promise<void>>();
  const log = pino({ level: process.env.JUMPGATE_TEST_LOG ?? "silent" });
  const server = net.createServer((socket) => {
    const ctx: DbSessionContext = {
      sessionId: randomUUID(),
      identity: {
        user: opts.user ?? "alice",
        roles: ["db"],
        traits: {},
        route: {
          serviceName: opts.database.name,
          protocol: "postgres",
          username: "",
          database: "",
        },
        expires: new Date(Date.now() + 3600_000),
      },
      database: opts.database,
      clientAddr: `${socket.remoteAddress}:${socket.remotePort}`,
      serviceName: "db-1",
      log,
      authorize: async (dbUser, dbName) => {
        if (opts.refuse?.includes(dbUser)) {
          throw accessDenied(`access to db denied: database user "${dbUser}" on "${dbName}" is not allowed by your roles`);
        }
      },
      serverCredentials: async (user) => {
        if (!opts.credentials) throw new Error("no credentials in this test");
        return opts.credentials(user);
      },
      emit: (e) => events.push(e),
    };
    const p = postgresEngine.handle(socket, ctx);
    running.add(p);
    void p.finally(() => running.delete(p));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const addr = server.address();
  if (typeof addr !== "object" || addr === null) throw new Error("no address");
  return {
    port: addr.port,
    events,
    settled: async () => {
      while (running.size > 0) await Promise.all([...running]);
    },
    close: () => new Promise((r) => server.close(() => r())),
  };
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a program without blocking the event loop (the engine runs in this process). */
export function run(
  cmd: string,
  args: string[],
  opts: {
    input?: string;
    env?: Record<string, string>;
    timeoutMs?: number;
    onStart?: (pid: number) => void;
  } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      env: { ...process.env, ...opts.env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    child.stdin.on("error", () => undefined);
    child.stdin.end(opts.input ?? "");
    const t = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 30_000);
    child.on("error", reject);
    child.on("spawn", () => child.pid !== undefined && opts.onStart?.(child.pid));
    child.on("close", (code, signal) => {
      clearTimeout(t);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** psql against the engine: `user`, `dbname`, extra psql arguments. */
export function psql(port: number, user: string, dbname: string, args: string[], opts: Parameters<typeof run>[2] = {}): Promise<RunResult> {
  const conn = `host=127.0.0.1 port=${port} user=${user} dbname=${dbname} sslmode=prefer connect_timeout=10`;
  return run("psql", [conn, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", ...args], { ...opts, env: { PGAPPNAME: "jumpgate-test", ...opts.env } });
}

export const ofType = (events: Event[], type: string) => events.filter((e) => e.event === type);
