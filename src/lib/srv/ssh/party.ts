/**
 * The people in one interactive session: its owner and whoever joined. The
 * PTY's output goes to every joiner (after a short replay of recent output),
 * peers' keystrokes go to the PTY and observers' are dropped, everyone sees
 * who joins and leaves, and the tracker in Auth follows. The session ends
 * for everyone when the owner's program exits; a joiner leaving ends only
 * his own channel.
 */
import type { Logger } from "pino";
import type { ServerChannel } from "ssh2";
import type { Clock } from "../../../api/clock.ts";
import { finishChannel } from "./spawn.ts";
import { type PartyMember, TrackerKeeper, type TrackerSink } from "./tracker.ts";

export type JoinerMode = "observer" | "peer";

/** Recent output replayed to a joiner, so that he sees the prompt he arrives at. */
const REPLAY_BYTES = 4096;
/** A joiner whose channel holds this much unsent output is too slow to follow and is dropped. */
const MAX_BACKLOG = 4 * 1024 * 1024;
/** How long a joiner's channel may take to drain at the end before it is cut. */
const END_GRACE_MS = 5_000;

export interface PartyOptions {
  sessionId: string;
  owner: string;
  login: string;
  started: Date;
  hostId: string;
  hostname: string;
  /** One line on the owner's terminal. */
  notifyOwner(text: string): void;
  /** Peers' keystrokes, for the PTY. */
  input(data: Buffer): void;
  trackers?: TrackerSink;
  clock: Clock;
  log: Logger;
}

export interface Joiner {
  user: string;
  mode: JoinerMode;
  channel: ServerChannel;
  /** Counts as activity on the joiner's connection (idle timeout). */
  touch(): void;
}

interface Member extends Joiner {
  joined: Date;
  leave(): void;
}

const line = (text: string) => `\r\n${text}\r\n`;

export class SessionParty {
  private readonly joiners = new Set<Member>();
  private readonly everyone: string[];
  private readonly ownerSince: Date;
  private readonly tracker: TrackerKeeper | undefined;
  private recent: Buffer[] = [];
  private recentBytes = 0;
  private truncated = false;
  private ended = false;

  constructor(private readonly o: PartyOptions) {
    this.everyone = [o.owner];
    this.ownerSince = o.started;
    this.tracker = o.trackers
      ? new TrackerKeeper(
          o.trackers,
          { sessionId: o.sessionId, login: o.login, owner: o.owner, hostId: o.hostId, hostname: o.hostname, created: o.started },
          o.clock,
          o.log,
        )
      : undefined;
    this.tracker?.start(this.members());
  }

  get sessionId(): string {
    return this.o.sessionId;
  }

  get owner(): string {
    return this.o.owner;
  }

  get isOpen(): boolean {
    return !this.ended;
  }

  /** Who is in the session now, the owner first. */
  members(): PartyMember[] {
    return [{ user: this.o.owner, mode: "peer", joined: this.ownerSince }, ...[...this.joiners].map((j) => ({ user: j.user, mode: j.mode, joined: j.joined }))];
  }

  /** Everyone who took part, once each, the owner first (for `session.end`). */
  participants(): string[] {
    return [...this.everyone];
  }

  /** A chunk of the PTY's output. */
  output(d: Buffer): void {
    this.keep(d);
    for (const j of this.joiners) this.send(j, d);
  }

  /**
   * Adds a joiner; resolves when he has left or the session has ended.
   * Undefined when the session has already ended.
   */
  join(j: Joiner): Promise<void> | undefined {
    if (this.ended) return undefined;
    return new Promise<void>((resolve) => {
      let gone = false;
      const m: Member = {
        ...j,
        joined: this.o.clock.now(),
        leave: () => {
          if (gone) return;
          gone = true;
          if (this.joiners.delete(m) && !this.ended) {
            this.announce(`jumpgate: ${j.user} left the session`, m);
            this.tracker?.update(this.members());
          }
          resolve();
        },
      };
      j.channel.on("data", (d: Buffer) => {
        j.touch();
        if (j.mode === "peer" && !this.ended && !gone) this.o.input(d);
      });
      j.channel.once("close", () => m.leave());
      this.joiners.add(m);
      if (!this.everyone.includes(j.user)) this.everyone.push(j.user);
      const replay = this.replay();
      if (replay.length > 0) this.send(m, replay);
      this.announce(`jumpgate: ${j.user} joined the session as ${j.mode}`, m);
      this.tracker?.update(this.members());
    });
  }

  /** The owner's program exited: every joiner's channel ends, the tracker is marked terminated. */
  end(): Promise<void> {
    if (this.ended) return Promise.resolve();
    this.ended = true;
    for (const j of this.joiners) {
      if (j.channel.writable) j.channel.stderr.write(line(`jumpgate: ${this.o.owner}'s session has ended`));
      const cut = setTimeout(() => j.channel.close(), END_GRACE_MS);
      cut.unref();
      void finishChannel(j.channel, { code: 0, signal: null })
        .catch(() => undefined)
        .finally(() => {
          clearTimeout(cut);
          j.leave();
        });
    }
    return this.tracker?.terminate() ?? Promise.resolve();
  }

  /** A line for the owner and every joiner except `except` (who is told by his own client). */
  private announce(text: string, except: Member): void {
    this.o.log.info({ sid: this.o.sessionId }, text);
    this.o.notifyOwner(text);
    for (const j of this.joiners) {
      if (j !== except && j.channel.writable) j.channel.stderr.write(line(text));
    }
  }

  private send(j: Member, d: Buffer): void {
    if (!j.channel.writable) return;
    j.channel.write(d);
    j.touch();
    if (j.channel.writableLength > MAX_BACKLOG) {
      this.o.log.warn({ sid: this.o.sessionId, user: j.user }, "dropping a joiner who cannot keep up with the session's output");
      j.channel.stderr.write(line("jumpgate: you could not keep up with the session's output; leaving it"));
      j.channel.close();
      j.leave();
    }
  }

  private keep(d: Buffer): void {
    this.recent.push(d);
    this.recentBytes += d.length;
    while (this.recentBytes - (this.recent[0]?.length ?? 0) >= REPLAY_BYTES) {
      this.recentBytes -= this.recent.shift()?.length ?? 0;
      this.truncated = true;
    }
  }

  /** Recent output, starting at a line when older output was dropped (fewer half escape sequences). */
  private replay(): Buffer {
    let buf = Buffer.concat(this.recent);
    const partial = this.truncated || buf.length > REPLAY_BYTES;
    if (buf.length > REPLAY_BYTES) buf = buf.subarray(buf.length - REPLAY_BYTES);
    if (partial) {
      const nl = buf.indexOf(0x0a);
      if (nl >= 0) buf = buf.subarray(nl + 1);
    }
    return buf;
  }
}
