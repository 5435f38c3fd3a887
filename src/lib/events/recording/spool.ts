/**
 * Spool files: a recording on the recording host's disk, `DIR/<sessionId>.rec`,
 * written append-only in whole lines and read back by the uploader.
 */
import { type FileHandle, open } from "node:fs/promises";
import { performance } from "node:perf_hooks";
import { type EndReason, encodeEvent, MAX_LINE_BYTES, parseEventLine, parseHeaderLine, type RecordingHeader } from "./format.ts";

/** The logging the recorder and uploader need; a pino logger fits. */
export interface RecordingLog {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export const SPOOL_SUFFIX = ".rec";

export interface SpoolWriterOptions {
  path: string;
  /** Buffered lines reach the file at most this long after they arrive (default 200 ms). */
  flushIntervalMs?: number;
  /** ...or as soon as this many bytes are buffered (default 64 KiB). */
  flushBytes?: number;
  /** fsync at most this often (default 200 ms). Only synced bytes are reported durable. */
  syncIntervalMs?: number;
  /** Lines that would grow the buffer past this are dropped and counted (default 8 MiB). */
  maxBufferBytes?: number;
  /** After each fsync: the bytes now safely on disk. */
  onDurable?(size: number): void;
  /** The first failure of a streak (a later success starts a new streak). */
  onError?(e: unknown): void;
}

const RETRY_MS = 1000;

/**
 * Buffers lines in memory and writes them on a timer, so the caller (a PTY's
 * data handler) never waits for the disk. A `kill -9` loses at most the last
 * flush interval or flush-size of lines; memory is capped by dropping lines.
 */
export class SpoolWriter {
  private readonly o: Required<Omit<SpoolWriterOptions, "onDurable" | "onError">> & SpoolWriterOptions;
  private fh: FileHandle | undefined;
  private queue: string[] = [];
  private retry: Buffer | undefined;
  private buffered = 0;
  private written = 0;
  private synced = 0;
  private lastSync = Number.NEGATIVE_INFINITY;
  private timer: NodeJS.Timeout | undefined;
  private tail: Promise<void> = Promise.resolve();
  private kickQueued = false;
  private failing = false;
  private closed = false;
  /** Bytes of lines refused because the buffer was full or the disk failed. */
  droppedBytes = 0;

  constructor(o: SpoolWriterOptions) {
    this.o = { flushIntervalMs: 200, flushBytes: 64 * 1024, syncIntervalMs: 200, maxBufferBytes: 8 * 1024 * 1024, ...o };
  }

  /** Queues one line (with its newline); false when it was dropped. Never blocks. */
  append(line: string): boolean {
    if (this.closed) return false;
    const bytes = Buffer.byteLength(line);
    if (this.buffered + bytes > this.o.maxBufferBytes) {
      this.droppedBytes += bytes;
      return false;
    }
    this.queue.push(line);
    this.buffered += bytes;
    if (this.buffered >= this.o.flushBytes && !this.failing) this.kick();
    else this.arm(this.o.flushIntervalMs);
    return true;
  }

  /** Writes and syncs everything queued now. */
  flush(): Promise<void> {
    return this.serial(() => this.drain(true));
  }

  /** Flushes, syncs and closes the file; later appends are dropped. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.clearTimer();
    try {
      await this.flush();
    } catch (e) {
      this.o.onError?.(e);
      this.droppedBytes += this.buffered;
    }
    await this.serial(async () => {
      await this.fh?.close();
      this.fh = undefined;
    }).catch(() => {});
  }

  private serial(f: () => Promise<void>): Promise<void> {
    const p = this.tail.then(f);
    this.tail = p.catch(() => {});
    return p;
  }

  private arm(ms: number): void {
    if (this.timer || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.kick();
    }, ms);
    this.timer.unref?.();
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private kick(): void {
    this.clearTimer();
    if (this.kickQueued) return;
    this.kickQueued = true;
    this.serial(async () => {
      this.kickQueued = false;
      await this.drain(false);
    }).then(
      () => {
        this.failing = false;
      },
      (e: unknown) => {
        if (!this.failing) this.o.onError?.(e);
        this.failing = true;
        this.arm(RETRY_MS);
      },
    );
  }

  /** One pass: write what is queued, then fsync if it is due (or forced). */
  private async drain(force: boolean): Promise<void> {
    this.fh ??= await open(this.o.path, "ax", 0o600);
    const fh = this.fh;
    const data = this.take();
    let off = 0;
    try {
      while (off < data.length) {
        const { bytesWritten } = await fh.write(data, off, data.length - off);
        off += bytesWritten;
      }
    } catch (e) {
      this.retry = data.subarray(off);
      this.buffered += this.retry.length;
      throw e;
    } finally {
      this.written += off;
    }
    if (this.written === this.synced) return;
    const wait = this.o.syncIntervalMs - (performance.now() - this.lastSync);
    if (!force && wait > 0) {
      this.arm(wait);
      return;
    }
    const size = this.written;
    await fh.datasync();
    this.lastSync = performance.now();
    this.synced = size;
    this.o.onDurable?.(size);
  }

  private take(): Buffer {
    const parts: Buffer[] = [];
    if (this.retry) parts.push(this.retry);
    if (this.queue.length > 0) parts.push(Buffer.from(this.queue.join("")));
    this.retry = undefined;
    this.queue = [];
    this.buffered = 0;
    return parts.length === 1 && parts[0] ? parts[0] : Buffer.concat(parts);
  }
}

// ---------------------------------------------------------------- reading back

export async function readRange(path: string, offset: number, length: number): Promise<Buffer> {
  const fh = await open(path, "r");
  try {
    const buf = Buffer.alloc(length);
    let got = 0;
    while (got < length) {
      const { bytesRead } = await fh.read(buf, got, length - got, offset + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return buf.subarray(0, got);
  } finally {
    await fh.close();
  }
}

/** The header of a spool file, or undefined when it has none that parses. */
export async function readSpoolHeader(path: string): Promise<RecordingHeader | undefined> {
  const head = await readRange(path, 0, MAX_LINE_BYTES + 1);
  const nl = head.indexOf(0x0a);
  if (nl === -1) return undefined;
  try {
    return parseHeaderLine(head.subarray(0, nl).toString("utf8"));
  } catch {
    return undefined;
  }
}

/** Where the line that ends at `end` begins: just after the last newline before `end`, or 0. */
async function lineStart(fh: FileHandle, end: number): Promise<number> {
  const block = Buffer.alloc(64 * 1024);
  let pos = end;
  while (pos > 0) {
    const from = Math.max(0, pos - block.length);
    const { bytesRead } = await fh.read(block, 0, pos - from, from);
    const nl = block.subarray(0, bytesRead).lastIndexOf(0x0a);
    if (nl !== -1) return from + nl + 1;
    pos = from;
  }
  return 0;
}

export interface SealedSpool {
  /** Size of the file after sealing. */
  size: number;
  header: RecordingHeader | undefined;
  /** Time of the end event, seconds since the session's start. */
  endTime: number;
  endReason: EndReason;
  /** True when an `interrupted` end line had to be added. */
  interrupted: boolean;
}

/**
 * Makes a spool file a complete recording: cuts an unfinished last line (and a
 * last line that does not parse), then, unless it already ends with an end
 * event, appends `[t, "x", {"reason": "interrupted"}]` at the time of its last
 * event. Returns undefined when nothing usable is left (not even a header).
 */
export async function sealSpoolFile(path: string): Promise<SealedSpool | undefined> {
  const fh = await open(path, "r+");
  try {
    let size = (await fh.stat()).size;
    for (;;) {
      const cut = await lineStart(fh, size);
      if (cut < size) {
        await fh.truncate(cut);
        size = cut;
      }
      if (size === 0) return undefined;
      const start = await lineStart(fh, size - 1);
      const len = size - 1 - start;
      let time = 0;
      let ok = len <= MAX_LINE_BYTES;
      if (ok) {
        const buf = Buffer.alloc(len);
        await fh.read(buf, 0, len, start);
        try {
          if (start === 0) parseHeaderLine(buf.toString("utf8"));
          else {
            const ev = parseEventLine(buf.toString("utf8"));
            if (ev.type === "end") {
              await fh.datasync();
              return { size, header: await readSpoolHeader(path), endTime: ev.time, endReason: ev.reason, interrupted: false };
            }
            time = ev.time;
          }
        } catch {
          ok = false;
        }
      }
      if (!ok) {
        // A damaged last line: drop it and look at the one before.
        await fh.truncate(start);
        size = start;
        continue;
      }
      const line = Buffer.from(encodeEvent({ type: "end", time, reason: "interrupted", extra: {} }));
      await fh.write(line, 0, line.length, size);
      await fh.datasync();
      return { size: size + line.length, header: await readSpoolHeader(path), endTime: time, endReason: "interrupted", interrupted: true };
    }
  } finally {
    await fh.close();
  }
}
