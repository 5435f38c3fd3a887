import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort } from "./cluster.ts";

export interface Sshd {
  port: number;
  log(): string;
  stop(): Promise<void>;
}

/** A stock OpenSSH sshd on a loopback port, configured by the test, stopped by it. */
export async function startSshd(dir: string, lines: string[]): Promise<Sshd> {
  mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
  const port = await freePort();
  const config = join(dir, "sshd_config");
  writeFileSync(config, [...lines, "ListenAddress 127.0.0.1", "PidFile none", "StrictModes no", "UsePAM no", "LogLevel VERBOSE", ""].join("\n"));
  const proc: ChildProcess = spawn("/usr/sbin/sshd", ["-D", "-e", "-f", config, "-p", String(port)], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let log = "";
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`sshd did not start: ${log}`)), 10_000);
    proc.stderr?.on("data", (d: Buffer) => {
      log += d.toString();
      if (log.includes("Server listening on")) {
        clearTimeout(timer);
        resolve();
      }
    });
    proc.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`sshd exited ${code}: ${log}`));
    });
  });
  proc.removeAllListeners("exit");
  return {
    port,
    log: () => log,
    stop: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null) return resolve();
        proc.once("exit", () => resolve());
        proc.kill("SIGTERM");
      }),
  };
}
