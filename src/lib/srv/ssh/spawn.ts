/**
 * Programs behind a session channel: a child process with pipes (exec, sftp,
 * a shell without PTY) or a PTY (node-pty), wired to the channel with
 * backpressure both ways, and the end of a session (exit status or signal,
 * then EOF and close, in that order, after all output is sent).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { chownSync } from "node:fs";
import { constants } from "node:os";
import type { Writable } from "node:stream";
import * as nodePty from "node-pty";
import type { ServerChannel } from "ssh2";
import { asUser, homeOrRoot, type OsLogin } from "./oslogin.ts";

/** How a program ended: an exit code, or a signal name without "SIG". */
export interface ExitInfo {
  code: number | null;
  signal: string | null;
}

export interface Counters {
  /** Called for every chunk either way (idle tracking). */
  touch(): void;
  /** Bytes from the client to the program. */
  onIn?(n: number): void;
  /** Bytes from the program to the client (stdout and stderr). */
  onOut?(n: number, data: Buffer): void;
}

const SIGNAL_NAMES = new Map<number, string>(Object.entries(constants.signals).map(([name, n]) => [n, name.replace(/^SIG/, "")]));

export function signalName(n: number | string | null | undefined): string | null {
  if (n === null || n === undefined || n === 0) return null;
  if (typeof n === "string") return n.replace(/^SIG/, "");
  return SIGNAL_NAMES.get(n) ?? null;
}

/** Signals a client may send with a `signal` request (RFC 4254 §6.9 names). */
const CLIENT_SIGNALS = new Set(["ABRT", "ALRM", "FPE", "HUP", "ILL", "INT", "KILL", "PIPE", "QUIT", "SEGV", "TERM", "USR1", "USR2"]);

export function clientSignal(name: string): NodeJS.Signals | undefined {
  const n = name.replace(/^SIG/, "");
  return CLIENT_SIGNALS.has(n) ? (`SIG${n}` as NodeJS.Signals) : undefined;
}

/** Starts `argv` as `user` with pipes, in its own process group. */
export function spawnPiped(user: OsLogin, argv: readonly string[], env: Record<string, string>): ChildProcess {
  const { file, args } = asUser(user, argv);
  return spawn(file, args, { cwd: homeOrRoot(user), env, stdio: ["pipe", "pipe", "pipe"], detached: true });
}

/** Starts `argv` as `user` on a new PTY. */
export function spawnPty(
  user: OsLogin,
  argv: readonly string[],
  env: Record<string, string>,
  size: { term: string; cols: number; rows: number },
): nodePty.IPty {
  const { file, args } = asUser(user, argv);
  const p = nodePty.spawn(file, args, {
    name: size.term,
    cols: size.cols,
    rows: size.rows,
    cwd: homeOrRoot(user),
    env,
    encoding: null,
  });
  // As sshd does: the user owns their terminal (mesg, write, and programs that check it).
  const pts = (p as unknown as { ptsName?: unknown }).ptsName;
  if (typeof pts === "string" && process.getuid?.() === 0) {
    try {
      chownSync(pts, user.uid, user.gid);
    } catch {
      // Best effort: the session works without it.
    }
  }
  return p;
}

/**
 * Wires a piped child to a channel: channel → stdin (EOF closes stdin, so
 * `ssh host cat` pipelines end), stdout → channel, stderr → channel's stderr.
 * Resolves when the child has exited and its output is closed.
 */
export function pipeChild(child: ChildProcess, channel: ServerChannel, c: Counters): Promise<ExitInfo> {
  const { stdin, stdout, stderr } = child;
  if (!stdin || !stdout || !stderr) throw new Error("child without pipes");
  stdin.on("error", () => undefined); // EPIPE when the program exits before reading everything
  channel.on("data", (d: Buffer) => {
    c.touch();
    c.onIn?.(d.length);
  });
  channel.pipe(stdin);
  const out = (d: Buffer) => {
    c.touch();
    c.onOut?.(d.length, d);
  };
  stdout.on("data", out);
  stderr.on("data", out);
  stdout.pipe(channel, { end: false });
  stderr.pipe(channel.stderr, { end: false });
  return new Promise((resolve) => {
    child.once("error", () => resolve({ code: 127, signal: null }));
    child.once("close", (code, signal) => {
      channel.unpipe(stdin);
      resolve({ code, signal: signalName(signal) });
    });
  });
}

/**
 * Wires a PTY to a channel with backpressure (the PTY is paused while the
 * channel's window is full). Resolves on exit, after all output was read.
 */
export function pipePty(p: nodePty.IPty, channel: ServerChannel, c: Counters): Promise<ExitInfo> {
  channel.on("data", (d: Buffer) => {
    c.touch();
    c.onIn?.(d.length);
    p.write(d as unknown as string); // node-pty writes Buffers as they are
  });
  channel.on("drain", () => p.resume());
  p.onData((data) => {
    const d = Buffer.isBuffer(data) ? data : Buffer.from(data);
    c.touch();
    c.onOut?.(d.length, d);
    if (channel.writable && !channel.write(d)) p.pause();
  });
  return new Promise((resolve) => {
    p.onExit(({ exitCode, signal }) => resolve({ code: exitCode, signal: signalName(signal) }));
  });
}

/** Resolves once everything written to `w` so far has gone out (or the channel closed). */
function flushed(w: Writable, channel: ServerChannel): Promise<void> {
  return new Promise((resolve) => {
    if (!w.writable) return resolve();
    const done = () => {
      channel.off("close", done);
      resolve();
    };
    channel.once("close", done);
    w.write(Buffer.alloc(0), () => done());
  });
}

/** Sends the exit status (or signal) after the output, then EOF and close. */
export async function finishChannel(channel: ServerChannel, exit: ExitInfo): Promise<void> {
  await flushed(channel.stderr, channel);
  await flushed(channel, channel);
  if (exit.signal) channel.exit(exit.signal, false, "");
  else channel.exit(exit.code ?? 255);
  channel.end();
}
