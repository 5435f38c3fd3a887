/**
 * Uploads spool files to Auth's recording storage in parts while sessions run,
 * completes them when they end, and after a restart finishes what a crashed
 * process left behind. A file is deleted only once Auth confirms completion.
 */
import { mkdir, readdir, unlink } from "node:fs/promises";
import { join } from "node:path";
import type { Clock } from "../../../api/clock.ts";
import type { RecordingHeader } from "./format.ts";
import type { SpoolListener } from "./recorder.ts";
import { SESSION_ID_PATTERN } from "./recorder.ts";
import { type RecordingLog, readRange, readSpoolHeader, SPOOL_SUFFIX, sealSpoolFile } from "./spool.ts";

export type RecordingMetadata = Record<string, string | number | boolean | string[]>;

export interface RecordingPart {
  sessionId: string;
  /** Byte offset of `data` in the recording. */
  offset: number;
  data: Buffer;
  /** Set on the last part. */
  complete: boolean;
  metadata?: RecordingMetadata;
}

export interface RecordingUploaderOptions {
  dir: string;
  /** Sends one part; resolves with the bytes Auth holds for the session afterwards. */
  upload(part: RecordingPart): Promise<{ size: number }>;
  clock: Clock;
  log: RecordingLog;
  /** Largest part sent (default 1 MiB). */
  partBytes?: number;
  /** While a session runs, upload what is on disk at most this often (default 1 s) or per full part. */
  liveIntervalMs?: number;
  /** Backoff after a failed call: first delay and cap (defaults 500 ms and 30 s), with jitter. */
  retryMs?: { initial: number; max: number };
}

interface Upload {
  id: string;
  path: string;
  /** Bytes of the file that are synced and may be sent. */
  durable: number;
  /** The file is final (sealed): `durable` is its whole size. */
  sealed: boolean;
  /** What Auth holds, as of the last call; undefined until asked again. */
  remote: number | undefined;
  metadata: RecordingMetadata | undefined;
  metadataSent: boolean;
  /** Metadata sent with the completing call: the first part's plus end and duration. */
  final: RecordingMetadata | undefined;
  running: Promise<void> | undefined;
  /** Set while the file is being sealed; no parts are sent meanwhile. */
  sealing: Promise<void> | undefined;
  again: boolean;
  timer: NodeJS.Timeout | undefined;
  backoff: boolean;
  failures: number;
}

const EMPTY = Buffer.alloc(0);

export function metadataFromHeader(h: RecordingHeader): RecordingMetadata {
  const j = h.jumpgate;
  return {
    user: j.user,
    login: j.login,
    host_id: j.host_id,
    node_name: j.node_name,
    start: j.start,
    participants: [j.user],
    session_type: "interactive",
  };
}

export class RecordingUploader implements SpoolListener {
  private readonly uploads = new Map<string, Upload>();
  private readonly partBytes: number;
  private readonly liveMs: number;
  private readonly retry: { initial: number; max: number };
  private closed = false;

  constructor(private readonly o: RecordingUploaderOptions) {
    this.partBytes = o.partBytes ?? 1024 * 1024;
    this.liveMs = o.liveIntervalMs ?? 1000;
    this.retry = o.retryMs ?? { initial: 500, max: 30_000 };
  }

  /**
   * Finds spool files left by an earlier run (a node that crashed or stopped
   * mid-session), seals each with an `interrupted` end and uploads it.
   */
  async start(): Promise<void> {
    await mkdir(this.o.dir, { recursive: true, mode: 0o700 });
    for (const name of await readdir(this.o.dir)) {
      if (!name.endsWith(SPOOL_SUFFIX)) continue;
      const id = name.slice(0, -SPOOL_SUFFIX.length);
      if (!SESSION_ID_PATTERN.test(id)) {
        this.o.log.warn({ file: name }, "ignoring a file in the recordings spool that is not named by a session ID");
        continue;
      }
      if (this.uploads.has(id)) continue;
      await this.seal(this.track(id));
    }
  }

  // SpoolListener: called by the recorders of this process.

  opened(sessionId: string): void {
    this.track(sessionId);
  }

  written(sessionId: string, durableBytes: number): void {
    const u = this.uploads.get(sessionId);
    if (!u || u.sealed || this.closed) return;
    u.durable = Math.max(u.durable, durableBytes);
    if (u.backoff) return;
    if (u.durable - (u.remote ?? 0) >= this.partBytes) this.kick(u);
    else this.arm(u, this.liveMs);
  }

  finished(sessionId: string): void {
    const u = this.uploads.get(sessionId) ?? this.track(sessionId);
    if (this.closed) return;
    this.seal(u).catch((e: unknown) => this.o.log.warn({ err: e, session_id: sessionId }, "cannot seal the session recording"));
  }

  /** Session IDs whose recordings are not yet confirmed complete at Auth. */
  pending(): string[] {
    return [...this.uploads.keys()];
  }

  /** Sends what is on disk now, outside the usual cadence and backoff; resolves when every session's pass ends. */
  async flush(): Promise<void> {
    await Promise.all(
      [...this.uploads.values()].map(async (u) => {
        await u.sealing;
        this.clearTimer(u);
        u.backoff = false;
        this.kick(u);
        await this.idle(u);
      }),
    );
  }

  /** Stops uploading; files stay on disk for the next start. Waits (up to 5 s) for calls in flight. */
  async close(): Promise<void> {
    this.closed = true;
    const running: Promise<void>[] = [];
    for (const u of this.uploads.values()) {
      this.clearTimer(u);
      if (u.running) running.push(u.running);
    }
    let t: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(running), new Promise<void>((r) => (t = setTimeout(r, 5000)))]);
    clearTimeout(t);
  }

  private track(id: string): Upload {
    let u = this.uploads.get(id);
    if (!u) {
      u = {
        id,
        path: join(this.o.dir, `${id}${SPOOL_SUFFIX}`),
        durable: 0,
        sealed: false,
        remote: undefined,
        metadata: undefined,
        metadataSent: false,
        final: undefined,
        running: undefined,
        sealing: undefined,
        again: false,
        timer: undefined,
        backoff: false,
        failures: 0,
      };
      this.uploads.set(id, u);
    }
    return u;
  }

  /** Makes the file final (adding an `interrupted` end if it has none), then uploads it to the end. */
  private seal(u: Upload): Promise<void> {
    if (u.sealing) return u.sealing;
    // A pending timer (cadence or backoff) stays: kicks wait for the sealing to end.
    u.sealing = this.sealNow(u).finally(() => {
      u.sealing = undefined;
      if (this.uploads.get(u.id) === u && !u.backoff) this.kick(u);
    });
    return u.sealing;
  }

  private async sealNow(u: Upload): Promise<void> {
    await this.idle(u);
    let sealed: Awaited<ReturnType<typeof sealSpoolFile>>;
    try {
      sealed = await sealSpoolFile(u.path);
    } catch (e) {
      if (isMissing(e)) {
        this.forget(u, "the session recording's spool file is gone");
        return;
      }
      this.o.log.warn({ err: e, session_id: u.id }, "cannot seal the session recording; will retry");
      this.retryLater(u, () => this.seal(u));
      return;
    }
    if (!sealed) {
      this.o.log.info({ session_id: u.id }, "discarding an empty session recording");
      await unlink(u.path).catch(() => {});
      this.uploads.delete(u.id);
      return;
    }
    if (sealed.interrupted) this.o.log.info({ session_id: u.id }, "session recording was interrupted; uploading what was kept");
    if (!sealed.header) this.o.log.warn({ session_id: u.id }, "session recording has no readable header");
    u.metadata = sealed.header ? metadataFromHeader(sealed.header) : { session_type: "interactive" };
    const startMs = sealed.header ? Date.parse(sealed.header.jumpgate.start) : Number.NaN;
    u.final = {
      ...u.metadata,
      ...(Number.isNaN(startMs) ? {} : { end: new Date(startMs + Math.round(sealed.endTime * 1000)).toISOString() }),
      duration_ms: Math.round(sealed.endTime * 1000),
      end_reason: sealed.endReason,
    };
    u.durable = sealed.size;
    u.sealed = true;
  }

  private async idle(u: Upload): Promise<void> {
    while (u.running) await u.running;
  }

  private arm(u: Upload, ms: number): void {
    if (u.timer || this.closed) return;
    u.timer = setTimeout(() => {
      u.timer = undefined;
      u.backoff = false;
      this.kick(u);
    }, ms);
    u.timer.unref?.();
  }

  private clearTimer(u: Upload): void {
    if (u.timer) clearTimeout(u.timer);
    u.timer = undefined;
  }

  private retryLater(u: Upload, f: () => Promise<void>): void {
    u.failures++;
    const base = Math.min(this.retry.max, this.retry.initial * 2 ** Math.min(u.failures - 1, 20));
    const delay = base / 2 + Math.random() * (base / 2);
    this.clearTimer(u);
    u.backoff = true;
    if (this.closed) return;
    u.timer = setTimeout(() => {
      u.timer = undefined;
      u.backoff = false;
      f().catch(() => {});
    }, delay);
    u.timer.unref?.();
  }

  private kick(u: Upload): void {
    if (this.closed || this.uploads.get(u.id) !== u || u.sealing) return;
    if (u.running) {
      u.again = true;
      return;
    }
    this.clearTimer(u);
    u.again = false;
    u.running = this.pump(u)
      .then(
        () => {
          u.failures = 0;
        },
        (e: unknown) => {
          u.remote = undefined;
          if (isMissing(e)) return this.forget(u, "the session recording's spool file is gone");
          if (u.failures === 0 || u.failures % 10 === 9) {
            this.o.log.warn({ err: e, session_id: u.id, failures: u.failures + 1 }, "session recording upload failed; will retry");
          }
          this.retryLater(u, async () => this.kick(u));
        },
      )
      .finally(() => {
        u.running = undefined;
        if (u.again && !u.backoff) this.kick(u);
      });
  }

  /** Sends parts until Auth holds everything durable (and, once sealed, has confirmed completion). */
  private async pump(u: Upload): Promise<void> {
    while (!this.closed) {
      if (u.durable === 0 && !u.sealed) return;
      if (!u.metadata) {
        const h = await readSpoolHeader(u.path).catch(() => undefined);
        u.metadata = h ? metadataFromHeader(h) : { session_type: "interactive" };
      }
      const target = u.durable;
      if (u.remote === undefined) {
        // A zero-byte part at our size asks Auth how much it has, without ever
        // tripping over a recording it already holds complete.
        u.remote = await this.send(u, target, EMPTY, false);
        continue;
      }
      if (u.remote < target) {
        const offset = u.remote;
        const n = Math.min(this.partBytes, target - offset);
        const data = await readRange(u.path, offset, n);
        if (data.length < n) throw new Error(`spool file ${u.path} is shorter than expected`);
        const last = u.sealed && offset + n === target;
        const size = await this.send(u, offset, data, last);
        if (size === offset) throw new Error(`Auth took none of a ${n}-byte part at offset ${offset}`);
        u.remote = size;
        if (last && size >= target) return this.done(u);
        continue;
      }
      if (!u.sealed) {
        if (u.remote > target) this.o.log.debug({ session_id: u.id, remote: u.remote, local: target }, "Auth is ahead of the spool");
        return;
      }
      if (u.remote > target) {
        this.o.log.warn({ session_id: u.id, remote: u.remote, local: target }, "Auth holds more of the recording than the spool file; completing it as is");
      }
      const size = await this.send(u, u.remote, EMPTY, true);
      if (size < u.remote) {
        u.remote = size;
        continue;
      }
      return this.done(u);
    }
  }

  private async send(u: Upload, offset: number, data: Buffer, complete: boolean): Promise<number> {
    const metadata = complete ? u.final : u.metadataSent ? undefined : u.metadata;
    const r = await this.o.upload({ sessionId: u.id, offset, data, complete, ...(metadata ? { metadata } : {}) });
    if (!Number.isSafeInteger(r.size) || r.size < 0) throw new Error(`Auth reported a bad recording size ${String(r.size)}`);
    if (metadata) u.metadataSent = true;
    u.failures = 0;
    return r.size;
  }

  /** Auth confirmed completion: delete the spool file, then forget the session. */
  private async done(u: Upload): Promise<void> {
    this.clearTimer(u);
    try {
      await unlink(u.path);
    } catch (e) {
      if (!isMissing(e)) this.o.log.warn({ err: e, session_id: u.id }, "cannot delete an uploaded session recording");
    }
    this.uploads.delete(u.id);
    this.o.log.debug({ session_id: u.id, size: u.durable }, "session recording uploaded");
  }

  private forget(u: Upload, why: string): void {
    this.clearTimer(u);
    this.uploads.delete(u.id);
    this.o.log.warn({ session_id: u.id }, why);
  }
}

function isMissing(e: unknown): boolean {
  return typeof e === "object" && e !== null && (e as { code?: unknown }).code === "ENOENT";
}
