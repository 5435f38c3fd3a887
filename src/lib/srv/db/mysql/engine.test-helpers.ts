/**
 * Runs `mysqlEngine` on a local TCP listener with a hand-built
 * DbSessionContext (an `authorize` that refuses chosen users and databases,
 * `emit` collecting events), and runs the real `mysql` client against it.
 */
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import net from "node:net";
import { pino } from "pino";
import { accessDenied } from "../../../../api/errors.ts";
import type { DatabaseTarget, DbSessionContext } from "../engine.ts";
import { mysqlEngine } from "./server.ts";

export type Event = Record<string, unknown>;

export interface EngineUnderTest {
  port: number;
  events: Event[];
  /** Resolves when every session the listener accepted has ended. */
  settled(): Promise<void>;
  close(): Promise<void>;
}

export function target(over: Partial<DatabaseTarget> & Pick<DatabaseTarget, "auth">): DatabaseTarget {
  return {
    name: "maria",
    protocol: "mysql",
    uri: "127.0.0.1:3306",
    labels: {},
    auditQueries: true,
    ...over,
  };
}

export async function startEngine(opts: { database: DatabaseTarget; refuseUsers?: string[]; refuseDatabases?: string[] }): Promise<EngineUnderTest> {
  const events: Event[] = [];
  const running = new Set<Promise<void>>();
  const log = pino({ level: process.env.JUMPGATE_TEST_LOG ?? "silent" });
  const server = net.createServer((socket) => {
    const ctx: DbSessionContext = {
      sessionId: randomUUID(),
      identity: {
        user: "alice",
        roles: ["db"],
        traits: {},
        route: {
          serviceName: opts.database.name,
          protocol: "mysql",
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
        if (opts.refuseUsers?.includes(dbUser)) throw accessDenied(`access to db denied: database user "${dbUser}" is not allowed by your roles`);
        if (opts.refuseDatabases?.includes(dbName)) throw accessDenied(`access to db denied: database "${dbName}" is not allowed by your roles`);
      },
      serverCredentials: async () => {
        throw new Error("no credentials in this test");
      },
      emit: (e) => events.push(e),
    };
    // The Database Service hands streams over paused (it has read the proxy's header from them).
    socket.pause();
    const p = mysqlEngine.handle(socket, ctx).finally(() => running.delete(p));
    running.add(p);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const addr = server.address();
  if (addr === null || typeof addr === "string") throw new Error("no port");
  return {
    port: addr.port,
    events,
    settled: async () => {
      while (running.size > 0) await Promise.all([...running]);
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a program with a deadline, collecting its output. */
export function run(cmd: string, args: string[], input?: string, timeoutMs = 30_000): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const t = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("close", (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(input ?? "");
  });
}

/** `mysql` against the engine: no TLS (the engine offers none), batch output. */
export function mysqlArgs(port: number, user: string, database: string, extra: string[] = []): string[] {
  return ["-h", "127.0.0.1", "-P", String(port), "-u", user, "--skip-ssl", "-N", "-B", ...extra, database];
}
