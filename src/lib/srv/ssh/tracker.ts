/**
 * Keeps a session's `session_tracker` in Auth up to date: written when the
 * session starts, rewritten when someone joins or leaves and every refresh
 * period (its TTL is a few refresh periods, so the tracker of a node that
 * died vanishes on its own), and marked terminated at the end. Writes go out
 * one at a time, each with the latest state; a failed write is logged and
 * retried at the next refresh — tracking never holds up the session.
 */
import type { Logger } from "pino";
import type { Clock } from "../../../api/clock.ts";
import type { StoredResource } from "../../../api/resource.ts";
import {
  SESSION_TRACKER_REFRESH_MS,
  SESSION_TRACKER_TERMINATED_TTL_MS,
  SESSION_TRACKER_TTL_MS,
  type SessionJoinMode,
  type SessionState,
  sessionTrackerResource,
} from "../../../api/resources/index.ts";

/** Where trackers go (the node writes them to Auth). */
export interface TrackerSink {
  put(tracker: StoredResource): Promise<void>;
}

export interface PartyMember {
  user: string;
  mode: SessionJoinMode;
  joined: Date;
}

export interface TrackedSession {
  sessionId: string;
  login: string;
  owner: string;
  hostId: string;
  hostname: string;
  created: Date;
}

export class TrackerKeeper {
  private members: PartyMember[] = [];
  private state: SessionState = "active";
  private timer: NodeJS.Timeout | undefined;
  private chain: Promise<void> = Promise.resolve();
  private queued: Promise<void> | undefined;

  constructor(
    private readonly sink: TrackerSink,
    private readonly session: TrackedSession,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly refreshMs = SESSION_TRACKER_REFRESH_MS,
  ) {}

  start(members: PartyMember[]): void {
    this.members = members;
    void this.write();
    this.timer = setInterval(() => void this.write(), this.refreshMs);
    this.timer.unref();
  }

  update(members: PartyMember[]): void {
    if (this.state !== "active") return;
    this.members = members;
    void this.write();
  }

  /** Marks the session terminated (the tracker then expires shortly); resolves once written or failed. */
  terminate(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.state === "terminated") return this.chain;
    this.state = "terminated";
    return this.write();
  }

  /** The document as it would be written now. */
  document(): StoredResource {
    const now = this.clock.now().getTime();
    const ttl = this.state === "active" ? SESSION_TRACKER_TTL_MS : SESSION_TRACKER_TERMINATED_TTL_MS;
    const s = this.session;
    return sessionTrackerResource(
      {
        session_id: s.sessionId,
        kind: "ssh",
        state: this.state,
        login: s.login,
        owner: s.owner,
        participants: this.members.map((m) => ({ user: m.user, mode: m.mode, joined: m.joined.toISOString() })),
        host_id: s.hostId,
        hostname: s.hostname,
        created: s.created.toISOString(),
      },
      new Date(now + ttl),
    );
  }

  /** Queues a write of the latest state; a write already waiting picks up later changes. */
  private write(): Promise<void> {
    if (this.queued) return this.queued;
    const next = this.chain.then(async () => {
      this.queued = undefined;
      try {
        await this.sink.put(this.document());
      } catch (e) {
        this.log.warn({ err: e instanceof Error ? e.message : String(e), sid: this.session.sessionId }, "cannot write the session tracker");
      }
    });
    this.queued = next;
    this.chain = next;
    return next;
  }
}
