/**
 * One session channel forwarded by the proxy: the client's requests (pty-req,
 * env, shell, exec, subsystem, window-change, signal) are replayed on a
 * session channel to the node, data flows both ways, exit-status or
 * exit-signal comes back. Interactive sessions are recorded here with the
 * recorder the nodes use (so `jsh recordings ls` and `jsh play` see them),
 * and `session.start`, `exec`, `subsystem` and `session.end` (with the
 * recording id) are emitted the way the node emits them.
 */
import { randomUUID } from "node:crypto";
import type { Writable } from "node:stream";
import type { Logger } from "pino";
import type { ClientChannel, PseudoTtyOptions, ServerChannel, Session } from "ssh2";
import type { Clock } from "../../../api/clock.ts";
import type { RecorderFactory, SessionRecorder } from "../../events/index.ts";
import type { ForwardedConn } from "./forward.ts";

/** Session trackers the proxy keeps for nodes that keep none themselves (agentless ones). */
export interface SessionTracking {
  start(meta: { sessionId: string; user: string; login: string; hostId: string; hostname: string; start: Date }): { end(): Promise<void> };
}

export interface ForwardedSessionDeps {
  recorders?: RecorderFactory;
  tracking?: SessionTracking;
  clock: Clock;
  log: Logger;
}

const MAX_ENV = 64;
/** Signal names a client may send (RFC 4254 §6.10), without the SIG prefix. */
const SIGNALS = new Set(["ABRT", "ALRM", "FPE", "HUP", "ILL", "INT", "KILL", "PIPE", "QUIT", "SEGV", "TERM", "USR1", "USR2"]);

type Exit = { code: number } | { signal: string; coreDumped: boolean; message: string };

/** Resolves once everything written to `w` has gone out (or it closed). */
function flushed(w: Writable): Promise<void> {
  if (w.writableLength === 0 || w.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      w.off("drain", done);
      w.off("close", done);
      resolve();
    };
    w.on("drain", done);
    w.on("close", done);
  });
}

export class ForwardedSession {
  readonly id = randomUUID();
  private readonly start: Date;
  private readonly env: Record<string, string> = {};
  private pty: PseudoTtyOptions | undefined;
  private channel: ServerChannel | undefined;
  private upstream: ClientChannel | undefined;
  private recorder: SessionRecorder | undefined;
  private started = false;
  private done = false;
  private readonly doneListeners: (() => void)[] = [];

  constructor(
    private readonly c: ForwardedConn,
    session: Session,
    private readonly deps: ForwardedSessionDeps,
  ) {
    this.start = deps.clock.now();
    session.on("env", (accept, reject, info) => {
      const ok = !this.started && Object.keys(this.env).length < MAX_ENV && info.val.length <= 4096;
      if (ok) this.env[info.key] = info.val;
      (ok ? accept : reject)?.();
    });
    session.on("pty", (accept, reject, info) => {
      if (!c.policy.permitPty || this.started) return reject?.();
      this.pty = { term: info.term || "xterm", cols: info.cols || 80, rows: info.rows || 24, width: info.width, height: info.height, modes: info.modes };
      accept?.();
    });
    session.on("window-change", (accept, reject, info) => {
      if (!this.pty) return reject?.();
      this.pty.cols = info.cols || this.pty.cols;
      this.pty.rows = info.rows || this.pty.rows;
      this.upstream?.setWindow(this.pty.rows ?? 24, this.pty.cols ?? 80, info.height, info.width);
      this.recorder?.resize(this.pty.cols ?? 80, this.pty.rows ?? 24);
      accept?.();
    });
    session.on("signal", (accept, reject, info) => {
      const name = info.name.replace(/^SIG/, "");
      if (!this.upstream || !SIGNALS.has(name)) return reject?.();
      this.upstream.signal(name);
      accept?.();
    });
    // Agent and X11 forwarding are not carried through a terminating proxy.
    session.on("auth-agent", (_a, reject) => reject?.());
    session.on("x11", (_a, reject) => reject?.());
    session.on("shell", (accept, reject) => this.begin("shell", accept, reject));
    session.on("exec", (accept, reject, info) => this.begin("exec", accept, reject, info.command));
    session.on("subsystem", (accept, reject, info) => {
      if (info.name.startsWith("proxy:")) return reject?.();
      this.begin("subsystem", accept, reject, info.name);
    });
    session.on("close", () => this.hangUp());
  }

  onDone(f: () => void): void {
    if (this.done) f();
    else this.doneListeners.push(f);
  }

  /** A line on the session's stderr. */
  notice(text: string): void {
    if (this.channel?.writable) this.channel.stderr.write(`\r\n${text}\r\n`);
  }

  /** The client or the connection went away: close the node's channel. */
  hangUp(): void {
    if (this.upstream) this.upstream.close();
    else if (!this.started) this.finish();
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    for (const f of this.doneListeners.splice(0)) f();
  }

  private begin(kind: "shell" | "exec" | "subsystem", accept: () => ServerChannel, reject: (() => void) | undefined, arg = ""): void {
    if (this.started) {
      reject?.();
      return;
    }
    this.started = true;
    // Accept at once, as the node does: ssh2 refuses a late accept once the client has sent EOF.
    const channel = accept();
    if (!channel) {
      this.finish();
      return;
    }
    this.channel = channel;
    const ignore = (e: Error) => this.deps.log.debug({ err: e.message }, "forwarded session channel error");
    channel.on("error", ignore);
    channel.stderr.on("error", ignore);
    void this.run(kind, channel, arg)
      .catch((e: unknown) => this.deps.log.error({ err: e instanceof Error ? e.stack : String(e) }, "forwarded session failed"))
      .finally(() => this.finish());
  }

  /** Opens the node's side of the session. */
  private open(kind: "shell" | "exec" | "subsystem", arg: string): Promise<ClientChannel> {
    const up = this.c.upstream;
    const env = { ...this.env };
    return new Promise((resolve, reject) => {
      const cb = (err: Error | undefined, ch: ClientChannel) => (err ? reject(err) : resolve(ch));
      if (kind === "subsystem") up.subsys(arg, cb);
      else if (kind === "exec") up.exec(arg, { env, ...(this.pty ? { pty: this.pty } : {}) }, cb);
      else up.shell(this.pty ?? false, { env }, cb);
    });
  }

  private async run(kind: "shell" | "exec" | "subsystem", channel: ServerChannel, arg: string): Promise<void> {
    const c = this.c;
    const interactive = this.pty !== undefined && kind !== "subsystem";
    if (kind === "subsystem") c.audit("subsystem", { sid: this.id, name: arg });
    else {
      c.audit("session.start", {
        sid: this.id,
        session_type: interactive ? "interactive" : "exec",
        ...(kind === "exec" ? { command: arg } : {}),
        ...(this.pty ? { size: `${this.pty.cols}:${this.pty.rows}` } : {}),
      });
    }
    let upstream: ClientChannel;
    try {
      upstream = await this.open(kind, arg);
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      channel.stderr.write(`jumpgate: ${c.node.name} refused the ${kind === "subsystem" ? `${arg} subsystem` : kind}: ${why}\r\n`);
      await this.close(channel, { code: 1 });
      if (kind !== "subsystem") this.ended(kind, arg, { code: 1 }, undefined, undefined);
      return;
    }
    this.upstream = upstream;
    if (channel.destroyed) upstream.close();
    const tracker = interactive
      ? this.deps.tracking?.start({ sessionId: this.id, user: c.user, login: c.login, hostId: c.node.hostId, hostname: c.node.name, start: this.start })
      : undefined;
    if (interactive && c.record && c.policy.recordSession && this.deps.recorders) {
      try {
        this.recorder = this.deps.recorders({
          sessionId: this.id,
          user: c.user,
          login: c.login,
          hostId: c.node.hostId,
          nodeName: c.node.name,
          cols: this.pty?.cols ?? 80,
          rows: this.pty?.rows ?? 24,
          start: this.start,
          remoteAddr: c.remoteAddr,
        });
      } catch (e) {
        this.deps.log.error({ err: e instanceof Error ? e.message : String(e) }, "cannot start the session recording");
      }
    }
    const exit = await this.pump(channel, upstream);
    await this.close(channel, exit);
    await tracker?.end().catch(() => undefined);
    let recordingId: string | undefined;
    if (this.recorder) {
      await this.recorder.close().then(
        () => {
          recordingId = this.id;
        },
        (e: unknown) => this.deps.log.error({ err: e instanceof Error ? e.message : String(e) }, "session recording failed"),
      );
    }
    if (kind === "subsystem") c.audit(arg === "sftp" ? "sftp" : "subsystem.end", { sid: this.id, name: arg, success: "code" in exit && exit.code === 0 });
    else this.ended(kind, arg, exit, recordingId, interactive);
  }

  /** Moves data both ways until the node closes its channel; resolves with how the program ended. */
  private pump(channel: ServerChannel, upstream: ClientChannel): Promise<Exit> {
    const c = this.c;
    const rec = this.recorder;
    let exit: Exit = { code: 255 };
    upstream.on("exit", (code: number | null, signal?: string, coreDumped?: boolean, message?: string) => {
      exit = code !== null && code !== undefined ? { code } : { signal: signal ?? "KILL", coreDumped: coreDumped === true, message: message ?? "" };
    });
    upstream.on("data", (d: Buffer) => {
      c.touch();
      rec?.output(d);
    });
    upstream.stderr.on("data", (d: Buffer) => {
      c.touch();
      rec?.output(d);
    });
    channel.on("data", c.touch);
    upstream.pipe(channel, { end: false });
    upstream.stderr.pipe(channel.stderr, { end: false });
    channel.pipe(upstream);
    upstream.on("error", () => undefined);
    return new Promise((resolve) => {
      upstream.once("close", () => {
        channel.unpipe(upstream);
        resolve(exit);
      });
    });
  }

  /** Sends the exit status (or signal) after the output, then EOF and close. */
  private async close(channel: ServerChannel, exit: Exit): Promise<void> {
    await flushed(channel.stderr);
    await flushed(channel);
    if (channel.destroyed) return;
    if ("code" in exit) channel.exit(exit.code);
    else channel.exit(exit.signal, exit.coreDumped, exit.message);
    channel.end();
  }

  private ended(kind: "shell" | "exec", command: string, exit: Exit, recordingId: string | undefined, interactive: boolean | undefined): void {
    const c = this.c;
    const result = "code" in exit ? { exit_code: exit.code } : { signal: `SIG${exit.signal}` };
    if (kind === "exec") c.audit("exec", { sid: this.id, success: "code" in exit && exit.code === 0, command, ...result });
    c.audit("session.end", {
      sid: this.id,
      participants: [c.user],
      interactive: interactive === true,
      session_start: this.start.toISOString(),
      session_stop: this.deps.clock.now().toISOString(),
      ...(recordingId ? { recording_id: recordingId } : {}),
      ...result,
    });
  }
}
