/**
 * One session channel: pty-req, env, window-change, auth-agent-req, then
 * shell, exec or the sftp subsystem run as the login user; signals; exit
 * status; recording of interactive sessions and the party that may join
 * them; audit events. A shell request after the join variables joins a
 * running session instead (join.ts).
 */
import type { ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import type { IPty } from "node-pty";
import type { ServerChannel, Session } from "ssh2";
import type { ConnContext } from "./connection.ts";
import { hostOfAddr, sessionFailure } from "./errors.ts";
import { type JoinRequest, runJoin, takeJoinEnv } from "./join.ts";
import { baseEnv } from "./oslogin.ts";
import { SessionParty } from "./party.ts";
import { clientSignal, type ExitInfo, finishChannel, pipeChild, pipePty, spawnPiped, spawnPty } from "./spawn.ts";
import { parseScpCommand, runSftp } from "./subsystems.ts";

export interface SessionRecorder {
  output(data: Buffer): void;
  resize(cols: number, rows: number): void;
  close(): Promise<void>;
}

export type RecorderFactory = (meta: {
  sessionId: string;
  user: string;
  login: string;
  hostId: string;
  nodeName: string;
  cols: number;
  rows: number;
  start: Date;
  remoteAddr: string;
}) => SessionRecorder;

/** Environment variables a client may set (sshd's usual AcceptEnv, plus a few harmless ones). */
const ACCEPTED_ENV = /^(LANG|LANGUAGE|LC_[A-Z_]+|TERM|COLORTERM|NO_COLOR|TZ)$/;
const MAX_ENV = 64;

type Kind = "shell" | "exec" | "sftp";

export class SessionChannel {
  readonly id = randomUUID();
  readonly start: Date;
  private readonly env: Record<string, string> = {};
  private ptyReq: { term: string; cols: number; rows: number } | undefined;
  private pty: IPty | undefined;
  private child: ChildProcess | undefined;
  private channel: ServerChannel | undefined;
  private recorder: SessionRecorder | undefined;
  private party: SessionParty | undefined;
  private readonly join: JoinRequest = {};
  private ready: Promise<void> = Promise.resolve();
  private started = false;
  private running = false;
  private hungUp = false;
  private done = false;
  private readonly doneListeners: (() => void)[] = [];

  constructor(
    private readonly c: ConnContext,
    session: Session,
  ) {
    this.start = c.deps.clock.now();
    session.on("env", (accept, reject, info) => {
      if (!this.started && takeJoinEnv(this.join, info.key, info.val)) return accept?.();
      const ok = ACCEPTED_ENV.test(info.key) && info.val.length <= 4096 && Object.keys(this.env).length < MAX_ENV;
      if (ok) this.env[info.key] = info.val;
      (ok ? accept : reject)?.();
    });
    session.on("pty", (accept, reject, info) => {
      if (!c.policy.permitPty || this.started) {
        c.log.info("PTY refused: not allowed by the user's roles or certificate");
        return reject?.();
      }
      this.ptyReq = { term: info.term || "xterm", cols: info.cols || 80, rows: info.rows || 24 };
      accept?.();
    });
    session.on("window-change", (accept, reject, info) => {
      if (!this.ptyReq) return reject?.();
      this.ptyReq.cols = info.cols || this.ptyReq.cols;
      this.ptyReq.rows = info.rows || this.ptyReq.rows;
      this.pty?.resize(this.ptyReq.cols, this.ptyReq.rows);
      this.recorder?.resize(this.ptyReq.cols, this.ptyReq.rows);
      accept?.();
    });
    session.on("auth-agent", (accept, reject) => {
      if (!c.policy.permitAgentForwarding) {
        c.audit("port", { success: false, kind: "agent", error: "agent forwarding is not allowed by your roles" });
        return reject?.();
      }
      // The client does not wait for the answer: the next request waits for the socket instead.
      this.ready = this.ready.then(() =>
        c.agentSocket().then(
          (path) => {
            this.env.SSH_AUTH_SOCK = path;
            accept?.();
          },
          (e: unknown) => {
            c.log.warn({ err: e instanceof Error ? e.message : String(e) }, "agent forwarding failed");
            reject?.();
          },
        ),
      );
    });
    session.on("x11", (_accept, reject) => reject?.());
    session.on("signal", (accept, reject, info) => {
      const sig = clientSignal(info.name);
      if (!sig || !this.running) return reject?.();
      this.kill(sig, false);
      accept?.();
    });
    session.on("shell", (accept, reject) => (this.join.sessionId === undefined ? this.begin("shell", accept, reject) : this.beginJoin(accept, reject)));
    session.on("exec", (accept, reject, info) => this.begin(info.command.trim() === "" ? "shell" : "exec", accept, reject, info.command));
    session.on("subsystem", (accept, reject, info) => {
      if (info.name !== "sftp") return reject?.();
      this.begin("sftp", accept, reject);
    });
    session.on("close", () => this.terminate());
  }

  onDone(f: () => void): void {
    if (this.done) f();
    else this.doneListeners.push(f);
  }

  /** For activeSessions(). */
  describe(): { sessionId: string; user: string; login: string; start: Date } {
    return { sessionId: this.id, user: this.c.user, login: this.c.login, start: this.start };
  }

  /** The session's party while its PTY program runs, for joining. */
  joinable(): SessionParty | undefined {
    return this.party?.isOpen ? this.party : undefined;
  }

  /** A line on the session's stderr (e.g. why the connection is being closed). */
  notice(text: string): void {
    const ch = this.channel;
    if (ch?.writable) ch.stderr.write(`\r\n${text}\r\n`);
  }

  /** The client closed the session or the connection went away: hang up the program. */
  terminate(): void {
    this.hungUp = true;
    if (this.running) this.kill("SIGHUP", true);
    if (!this.started) this.finish();
  }

  private kill(sig: NodeJS.Signals, group: boolean): void {
    const pid = this.pty?.pid ?? this.child?.pid;
    if (pid === undefined) return;
    // Piped children lead their own process group; a PTY's shell leads its session.
    for (const target of group || this.child ? [-pid, pid] : [pid]) {
      try {
        process.kill(target, sig);
        return;
      } catch {
        // Try the next target; the process may be gone already.
      }
    }
  }

  /** Accepts the channel of the session's one program (or join); undefined when that is not possible. */
  private open(accept: () => ServerChannel, reject: (() => void) | undefined, joining: boolean): ServerChannel | undefined {
    if (this.started || (this.join.sessionId !== undefined && !joining)) {
      reject?.();
      return undefined;
    }
    this.started = true;
    // Accept at once: ssh2 refuses a late accept once the client has sent EOF (as `ssh host cmd </dev/null` does).
    const channel = accept();
    if (!channel) {
      this.finish();
      return undefined;
    }
    this.channel = channel;
    // A write racing the client's close must not become an unhandled 'error'.
    const ignore = (e: Error) => this.c.log.debug({ err: e.message }, "session channel error");
    channel.on("error", ignore);
    channel.stderr.on("error", ignore);
    return channel;
  }

  private beginJoin(accept: () => ServerChannel, reject: (() => void) | undefined): void {
    const channel = this.open(accept, reject, true);
    if (!channel) return;
    this.c.deps.track(this);
    void runJoin(this.c, channel, this.join)
      .catch((e: unknown) => this.c.log.error({ err: e instanceof Error ? e.stack : String(e) }, "session join failed"))
      .finally(() => this.finish());
  }

  private begin(kind: Kind, accept: () => ServerChannel, reject: (() => void) | undefined, command = ""): void {
    const channel = this.open(accept, reject, false);
    if (!channel) return;
    void this.ready
      .then(() => this.run(kind, channel, command))
      .catch((e: unknown) => this.c.log.error({ err: e instanceof Error ? e.stack : String(e) }, "session failed"))
      .finally(() => this.finish());
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    for (const f of this.doneListeners.splice(0)) f();
  }

  private sessionEnv(): Record<string, string> {
    const env: Record<string, string> = { ...this.env, ...baseEnv(this.c.os) };
    env.JUMPGATE_SESSION_ID = this.id;
    env.JUMPGATE_USER = this.c.user;
    const host = hostOfAddr(this.c.remoteAddr);
    const port = /:(\d+)$/.exec(this.c.remoteAddr.slice(host.length))?.[1] ?? "0";
    env.SSH_CLIENT = `${host} ${port} 0`;
    env.SSH_CONNECTION = `${host} ${port} ${this.c.deps.nodeName} 0`;
    if (this.ptyReq) env.TERM = this.ptyReq.term;
    return env;
  }

  private async run(kind: Kind, channel: ServerChannel, command: string): Promise<void> {
    if (this.hungUp) return; // closed while waiting for the agent socket
    const c = this.c;
    const env = this.sessionEnv();
    const touch = () => c.touch();
    this.running = true;
    c.deps.track(this);
    try {
      if (kind === "sftp") {
        c.audit("subsystem", { sid: this.id, name: "sftp" });
        const r = await runSftp(c.os, env, channel, touch).catch((e: unknown) => {
          channel.stderr.write(`jumpgate: ${sessionFailure("the sftp subsystem", e).message}\n`);
          return { code: 1, signal: null, bytesIn: 0, bytesOut: 0 };
        });
        this.running = false;
        await finishChannel(channel, r);
        c.audit("sftp", { sid: this.id, success: r.code === 0, bytes_in: r.bytesIn, bytes_out: r.bytesOut });
        return;
      }
      await this.runProgram(kind, channel, env, command);
    } finally {
      this.running = false;
    }
  }

  /** The party of an interactive session: joiners, notices, the tracker in Auth. */
  private startParty(): SessionParty {
    const c = this.c;
    this.party = new SessionParty({
      sessionId: this.id,
      owner: c.user,
      login: c.login,
      started: this.start,
      hostId: c.deps.hostId,
      hostname: c.deps.nodeName,
      notifyOwner: (text) => this.notice(text),
      input: (d) => this.pty?.write(d as unknown as string), // node-pty writes Buffers as they are
      ...(c.deps.trackers ? { trackers: c.deps.trackers } : {}),
      clock: c.deps.clock,
      log: c.log,
    });
    return this.party;
  }

  private async runProgram(kind: "shell" | "exec", channel: ServerChannel, env: Record<string, string>, command: string): Promise<void> {
    const c = this.c;
    const interactive = this.ptyReq !== undefined;
    c.audit("session.start", {
      sid: this.id,
      session_type: interactive ? "interactive" : "exec",
      ...(kind === "exec" ? { command } : {}),
      ...(this.ptyReq ? { size: `${this.ptyReq.cols}:${this.ptyReq.rows}` } : {}),
    });
    if (this.ptyReq && c.policy.recordSession && c.deps.recorders) {
      try {
        this.recorder = c.deps.recorders({
          sessionId: this.id,
          user: c.user,
          login: c.login,
          hostId: c.deps.hostId,
          nodeName: c.deps.nodeName,
          cols: this.ptyReq.cols,
          rows: this.ptyReq.rows,
          start: this.start,
          remoteAddr: c.remoteAddr,
        });
      } catch (e) {
        c.log.error({ err: e instanceof Error ? e.message : String(e) }, "cannot start the session recording");
      }
    }
    const shell = c.os.shell;
    const argv = kind === "shell" ? [shell, "-l"] : [shell, "-c", command];
    const touch = () => c.touch();
    let exit: ExitInfo;
    try {
      if (this.ptyReq) {
        const rec = this.recorder;
        this.pty = spawnPty(c.os, argv, env, this.ptyReq);
        const party = this.startParty();
        exit = await pipePty(this.pty, channel, {
          touch,
          onOut: (_n, d) => {
            rec?.output(d);
            party.output(d);
          },
        });
      } else {
        this.child = spawnPiped(c.os, argv, env);
        exit = await pipeChild(this.child, channel, { touch });
      }
    } catch (e) {
      const err = sessionFailure(kind === "shell" ? "a shell" : "the command", e);
      c.log.error({ err: err.detail }, err.message);
      channel.stderr.write(`jumpgate: ${err.message}\n`);
      exit = { code: 1, signal: null };
    }
    this.running = false;
    // Joiners' channels end with the owner's; the tracker is marked terminated in the background.
    void this.party?.end();
    await finishChannel(channel, exit);
    const exitCode = exit.signal ? undefined : (exit.code ?? undefined);
    const result = { ...(exitCode !== undefined ? { exit_code: exitCode } : {}), ...(exit.signal ? { signal: exit.signal } : {}) };
    if (kind === "exec") {
      const scp = parseScpCommand(command);
      if (scp) {
        c.audit("scp", { sid: this.id, success: exit.code === 0, path: scp.path, action: scp.action, direction: scp.action, command, ...result });
      } else {
        c.audit("exec", { sid: this.id, success: exit.code === 0, command, ...result });
      }
    }
    let recordingId: string | undefined;
    if (this.recorder) {
      await this.recorder.close().then(
        () => {
          recordingId = this.id;
        },
        (e: unknown) => c.log.error({ err: e instanceof Error ? e.message : String(e) }, "session recording failed"),
      );
    }
    c.audit("session.end", {
      sid: this.id,
      participants: this.party?.participants() ?? [c.user],
      interactive,
      session_start: this.start.toISOString(),
      session_stop: c.deps.clock.now().toISOString(),
      ...(recordingId ? { recording_id: recordingId } : {}),
      ...result,
    });
  }
}
