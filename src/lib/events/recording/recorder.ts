/**
 * Records interactive sessions to spool files and hands each finished file to
 * the uploader. The SSH service calls `output` from its PTY data handler, so
 * nothing here waits for the disk or throws.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Clock } from "../../../api/clock.ts";
import { badParameter } from "../../../api/errors.ts";
import {
  clampSize,
  encodeEvent,
  encodeHeader,
  headerFor,
  MAX_OUTPUT_EVENT_BYTES,
  OutputDecoder,
  type RecordingEvent,
  type RecordingSessionMeta,
  secondsSince,
} from "./format.ts";
import { type RecordingLog, SPOOL_SUFFIX, SpoolWriter, type SpoolWriterOptions } from "./spool.ts";

/** What the SSH service records a session through. */
export interface SessionRecorder {
  output(data: Buffer): void;
  resize(cols: number, rows: number): void;
  close(): Promise<void>;
}

export type RecorderFactory = (meta: RecordingSessionMeta) => SessionRecorder;

/** Told about spool files as they grow and finish; `RecordingUploader` is one. */
export interface SpoolListener {
  /** A recording for `sessionId` is starting (its file may not exist yet). */
  opened(sessionId: string): void;
  /** The first `durableBytes` bytes of the file are synced to disk. */
  written(sessionId: string, durableBytes: number): void;
  /** The file is final: the recorder has closed it. */
  finished(sessionId: string): void;
}

export interface SpoolRecorderOptions {
  dir: string;
  clock: Clock;
  uploader: SpoolListener;
  log?: RecordingLog;
  /** Tuning of the spool files; defaults flush within 200 ms or 64 KiB. */
  spool?: Omit<SpoolWriterOptions, "path" | "onDurable" | "onError">;
}

/** Session IDs name files, so they are held to the form Auth accepts: a lowercase UUID. */
export const SESSION_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function spoolPath(dir: string, sessionId: string): string {
  if (!SESSION_ID_PATTERN.test(sessionId)) throw badParameter(`"${sessionId}" is not a session ID`);
  return join(dir, `${sessionId}${SPOOL_SUFFIX}`);
}

export function createSpoolRecorderFactory(o: SpoolRecorderOptions): RecorderFactory {
  mkdirSync(o.dir, { recursive: true, mode: 0o700 });
  return (meta) => new SpoolRecorder(meta, o);
}

class SpoolRecorder implements SessionRecorder {
  private readonly writer: SpoolWriter;
  private readonly decoder = new OutputDecoder();
  private lastTime = 0;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly meta: RecordingSessionMeta,
    private readonly o: SpoolRecorderOptions,
  ) {
    const path = spoolPath(o.dir, meta.sessionId);
    const id = meta.sessionId;
    this.writer = new SpoolWriter({
      ...o.spool,
      path,
      onDurable: (size) => o.uploader.written(id, size),
      onError: (e) => o.log?.warn({ err: e, session_id: id, path }, "cannot write the session recording to disk"),
    });
    o.uploader.opened(id);
    this.writer.append(encodeHeader(headerFor(meta)));
  }

  output(data: Buffer): void {
    if (this.closing) return;
    try {
      for (let i = 0; i < data.length; i += MAX_OUTPUT_EVENT_BYTES) {
        this.text(this.decoder.write(data.subarray(i, i + MAX_OUTPUT_EVENT_BYTES)));
      }
    } catch (e) {
      this.o.log?.warn({ err: e, session_id: this.meta.sessionId }, "cannot record session output");
    }
  }

  resize(cols: number, rows: number): void {
    if (this.closing) return;
    this.event({ type: "resize", time: this.now(), cols: clampSize(cols), rows: clampSize(rows) });
  }

  close(): Promise<void> {
    this.closing ??= this.finish();
    return this.closing;
  }

  private async finish(): Promise<void> {
    const id = this.meta.sessionId;
    try {
      this.text(this.decoder.end());
      // Count what the end line itself may not fit in, too.
      const dropped = this.writer.droppedBytes;
      this.writer.append(encodeEvent({ type: "end", time: this.now(), reason: "end", extra: dropped > 0 ? { dropped_bytes: dropped } : {} }));
      await this.writer.close();
      if (this.writer.droppedBytes > 0) {
        this.o.log?.warn({ session_id: id, dropped_bytes: this.writer.droppedBytes }, "session recording lost output");
      }
    } catch (e) {
      this.o.log?.warn({ err: e, session_id: id }, "cannot finish the session recording");
    }
    // The uploader seals whatever is on disk, even after a failure here.
    this.o.uploader.finished(id);
  }

  private text(data: string): void {
    if (data.length > 0) this.event({ type: "output", time: this.now(), data });
  }

  private event(ev: RecordingEvent): void {
    this.writer.append(encodeEvent(ev));
  }

  /** Seconds since the start, never going back even if the clock does. */
  private now(): number {
    this.lastTime = Math.max(this.lastTime, secondsSince(this.meta.start, this.o.clock.now()));
    return this.lastTime;
  }
}
