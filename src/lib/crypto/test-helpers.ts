/**
 * Helpers for this folder's tests: temp dirs, running OpenSSH/OpenSSL, and a
 * throwaway sshd. Not part of the public surface.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isJumpgateError } from "../../api/errors.ts";

export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "jumpgate-crypto-"));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function writeSecret(path: string, text: string): void {
  writeFileSync(path, text, { mode: 0o600 });
}

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: readonly string[], input?: string): RunResult {
  const r = spawnSync(cmd, args, { encoding: "utf8", input, timeout: 20_000, env: { ...process.env, TZ: "UTC" } });
  return { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

/** Runs and fails with the program's output unless it exits 0. */
export function runOk(cmd: string, args: readonly string[], input?: string): string {
  const r = run(cmd, args, input);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** Asynchronous run, so that a server in this process can answer meanwhile. */
export function runAsync(cmd: string, args: readonly string[]): Promise<RunResult> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { env: { ...process.env, TZ: "UTC" } });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    p.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => p.kill("SIGKILL"), 20_000);
    p.on("close", (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const addr = s.address();
      const port = typeof addr === "object" && addr !== null ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

// One sshd harness for every test: the end-to-end one.
export { type Sshd, startSshd } from "../../../test/harness/sshd.ts";

/** Asserts `fn` either returns or throws a bad-parameter JumpgateError — anything else is a crash. */
export function mustNotCrash(fn: () => unknown, input: Buffer | string): void {
  try {
    fn();
  } catch (e) {
    if (!isJumpgateError(e, "bad-parameter")) {
      const shown = Buffer.isBuffer(input) ? input.toString("hex") : input;
      throw new Error(`parser crashed on ${shown.slice(0, 400)}: ${e instanceof Error ? e.stack : String(e)}`);
    }
  }
}

/** A deterministic PRNG (mulberry32) so that a failing fuzz case can be replayed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A mutated copy of `b`: flipped bytes, truncation, insertion or a length field set huge. */
export function mutate(b: Buffer, rnd: () => number): Buffer {
  const out = Buffer.from(b);
  const pick = (n: number) => Math.floor(rnd() * n);
  switch (pick(5)) {
    case 0:
      for (let i = 0, n = 1 + pick(4); i < n && out.length > 0; i++) out[pick(out.length)] = pick(256);
      return out;
    case 1:
      return out.subarray(0, pick(out.length + 1));
    case 2: {
      const at = pick(out.length + 1);
      return Buffer.concat([out.subarray(0, at), Buffer.from(Array.from({ length: 1 + pick(8) }, () => pick(256))), out.subarray(at)]);
    }
    case 3: {
      if (out.length < 4) return out;
      out.writeUInt32BE([0xffffffff, 0x7fffffff, pick(64), out.length][pick(4)] ?? 0, pick(out.length - 3));
      return out;
    }
    default: {
      const at = pick(out.length + 1);
      return Buffer.concat([out.subarray(0, at), out.subarray(Math.min(out.length, at + 1 + pick(16)))]);
    }
  }
}
