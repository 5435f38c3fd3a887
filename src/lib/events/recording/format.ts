/**
 * The session-recording format: JSON lines in the shape of asciicast v2, so a
 * recording can be streamed, appended to, cut at any line and still read.
 *
 *   {"version":2,"width":80,"height":24,"timestamp":1767225600,"jumpgate":{...}}
 *   [0.512,"o","$ "]
 *   [1.004,"r","120x40"]
 *   [9.870,"x",{"reason":"end"}]
 *
 * Pure: strings and bytes in, strings and typed values out; no I/O.
 */
import { badParameter } from "../../../api/errors.ts";

export const RECORDING_VERSION = 2;
/** The longest line a reader accepts; the recorder keeps its lines far below it. */
export const MAX_LINE_BYTES = 1024 * 1024;
/** Bytes of terminal output the recorder puts in one event (JSON escaping may grow them up to 6×). */
export const MAX_OUTPUT_EVENT_BYTES = 32 * 1024;
/** Terminal sizes outside 1..MAX_TERMINAL_SIZE are refused. */
export const MAX_TERMINAL_SIZE = 10_000;
/** Event times past this many seconds (about 31 years) are refused. */
const MAX_EVENT_SECONDS = 1e9;
/** Header strings (user, login, node name, ...) are at most this long. */
const MAX_HEADER_STRING = 4096;

/** What the SSH service knows about a session when it starts recording it. */
export interface RecordingSessionMeta {
  sessionId: string;
  user: string;
  login: string;
  hostId: string;
  nodeName: string;
  cols: number;
  rows: number;
  start: Date;
  remoteAddr: string;
}

export interface RecordingHeader {
  version: 2;
  width: number;
  height: number;
  /** Start of the session, Unix seconds. */
  timestamp: number;
  jumpgate: {
    session_id: string;
    user: string;
    login: string;
    host_id: string;
    node_name: string;
    remote_addr: string;
    /** Start of the session, ISO 8601 with milliseconds. */
    start: string;
  };
}

export type EndReason = "end" | "interrupted";

/** `time` is seconds since the session's start, with millisecond precision. */
export type RecordingEvent =
  | { type: "output"; time: number; data: string }
  | { type: "resize"; time: number; cols: number; rows: number }
  | { type: "end"; time: number; reason: EndReason; extra: Record<string, unknown> };

export type RecordingItem = { type: "header"; header: RecordingHeader } | RecordingEvent;

// ---------------------------------------------------------------- encoding

export function headerFor(meta: RecordingSessionMeta): RecordingHeader {
  return {
    version: RECORDING_VERSION,
    width: clampSize(meta.cols),
    height: clampSize(meta.rows),
    timestamp: Math.floor(meta.start.getTime() / 1000),
    jumpgate: {
      session_id: meta.sessionId,
      user: meta.user,
      login: meta.login,
      host_id: meta.hostId,
      node_name: meta.nodeName,
      remote_addr: meta.remoteAddr,
      start: meta.start.toISOString(),
    },
  };
}

/** Seconds from `start` to `now`, rounded to milliseconds, never negative. */
export function secondsSince(start: Date, now: Date): number {
  return Math.max(0, Math.round(now.getTime() - start.getTime())) / 1000;
}

export function clampSize(n: number): number {
  if (!Number.isFinite(n)) return 1;
  return Math.min(MAX_TERMINAL_SIZE, Math.max(1, Math.trunc(n)));
}

export function encodeHeader(header: RecordingHeader): string {
  return `${JSON.stringify(header)}\n`;
}

export function encodeEvent(ev: RecordingEvent): string {
  switch (ev.type) {
    case "output":
      return `${JSON.stringify([ev.time, "o", ev.data])}\n`;
    case "resize":
      return `${JSON.stringify([ev.time, "r", `${clampSize(ev.cols)}x${clampSize(ev.rows)}`])}\n`;
    case "end":
      return `${JSON.stringify([ev.time, "x", { ...ev.extra, reason: ev.reason }])}\n`;
  }
}

/**
 * Decodes a stream of UTF-8 terminal output into text. A multibyte character
 * split across chunks is held back until its last byte arrives; invalid bytes
 * become U+FFFD, so any output can be recorded.
 */
export class OutputDecoder {
  private readonly decoder = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });

  write(chunk: Uint8Array): string {
    return this.decoder.decode(chunk, { stream: true });
  }

  /** What is left at the end of the stream: "" or U+FFFD for a cut character. */
  end(): string {
    return this.decoder.decode();
  }
}

// ---------------------------------------------------------------- decoding

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function parseJson(line: string, what: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    throw badParameter(`malformed recording: ${what} is not valid JSON`);
  }
}

function headerString(o: Record<string, unknown>, key: string): string {
  const v = o[key];
  if (typeof v !== "string" || v.length > MAX_HEADER_STRING) {
    throw badParameter(`malformed recording: header field jumpgate.${key} must be a string`);
  }
  return v;
}

function size(v: unknown, what: string): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1 || v > MAX_TERMINAL_SIZE) {
    throw badParameter(`malformed recording: ${what} must be an integer from 1 to ${MAX_TERMINAL_SIZE}`);
  }
  return v;
}

/** Parses and checks the first line of a recording. */
export function parseHeaderLine(line: string): RecordingHeader {
  const v = parseJson(line, "the header");
  if (!isObject(v)) throw badParameter("malformed recording: the first line must be a header object");
  if (v.version !== RECORDING_VERSION) throw badParameter(`malformed recording: unsupported version ${String(v.version)}`);
  const width = size(v.width, "width");
  const height = size(v.height, "height");
  if (typeof v.timestamp !== "number" || !Number.isFinite(v.timestamp)) {
    throw badParameter("malformed recording: timestamp must be a number");
  }
  const j = v.jumpgate;
  if (!isObject(j)) throw badParameter("malformed recording: the header has no jumpgate section");
  const jumpgate = {
    session_id: headerString(j, "session_id"),
    user: headerString(j, "user"),
    login: headerString(j, "login"),
    host_id: headerString(j, "host_id"),
    node_name: headerString(j, "node_name"),
    remote_addr: headerString(j, "remote_addr"),
    start: headerString(j, "start"),
  };
  if (Number.isNaN(Date.parse(jumpgate.start))) throw badParameter("malformed recording: jumpgate.start is not a time");
  return { version: RECORDING_VERSION, width, height, timestamp: v.timestamp, jumpgate };
}

const RESIZE = /^(\d{1,5})x(\d{1,5})$/;

/** Parses one event line (anything after the header). */
export function parseEventLine(line: string): RecordingEvent {
  const v = parseJson(line, "an event");
  if (!Array.isArray(v) || v.length !== 3) throw badParameter("malformed recording: an event must be [time, code, data]");
  const [time, code, data] = v as [unknown, unknown, unknown];
  if (typeof time !== "number" || !Number.isFinite(time) || time < 0 || time > MAX_EVENT_SECONDS) {
    throw badParameter("malformed recording: an event's time must be a non-negative number of seconds");
  }
  switch (code) {
    case "o":
      if (typeof data !== "string") throw badParameter("malformed recording: output data must be a string");
      return { type: "output", time, data };
    case "r": {
      const m = typeof data === "string" ? RESIZE.exec(data) : null;
      if (!m) throw badParameter('malformed recording: a resize must be "COLSxROWS"');
      return { type: "resize", time, cols: size(Number(m[1]), "cols"), rows: size(Number(m[2]), "rows") };
    }
    case "x": {
      if (!isObject(data)) throw badParameter("malformed recording: an end event must carry an object");
      const { reason, ...extra } = data;
      if (reason !== "end" && reason !== "interrupted") {
        throw badParameter('malformed recording: an end reason must be "end" or "interrupted"');
      }
      return { type: "end", time, reason, extra };
    }
    default:
      throw badParameter(`malformed recording: unknown event code ${String(JSON.stringify(code)).slice(0, 20)}`);
  }
}

export interface ParserOptions {
  /** Longest line accepted, in bytes (default MAX_LINE_BYTES). */
  maxLineBytes?: number;
  /**
   * Accept a recording that stops in the middle of a line (one still being
   * uploaded) by dropping the unfinished line. Off by default.
   */
  allowPartialTail?: boolean;
}

const NEWLINE = 0x0a;
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * Streaming reader: feed it chunks of bytes cut anywhere; it returns the items
 * of every line completed so far. A malformed line, an oversized line, events
 * out of order or anything after the end event throw `badParameter`, and the
 * parser stays failed.
 */
export class RecordingParser {
  private readonly maxLine: number;
  private readonly allowPartialTail: boolean;
  private partial: Buffer[] = [];
  private partialBytes = 0;
  private header: RecordingHeader | undefined;
  private lastTime = 0;
  private ended = false;
  private failure: unknown;

  constructor(o: ParserOptions = {}) {
    this.maxLine = o.maxLineBytes ?? MAX_LINE_BYTES;
    this.allowPartialTail = o.allowPartialTail ?? false;
  }

  push(chunk: Uint8Array): RecordingItem[] {
    return this.guard(() => {
      const buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      const out: RecordingItem[] = [];
      let from = 0;
      while (from < buf.length) {
        const nl = buf.indexOf(NEWLINE, from);
        const end = nl === -1 ? buf.length : nl;
        if (this.partialBytes + (end - from) > this.maxLine) {
          throw badParameter(`malformed recording: a line is longer than ${this.maxLine} bytes`);
        }
        if (nl === -1) {
          // Copy: the caller may reuse its buffer.
          this.partial.push(Buffer.from(buf.subarray(from)));
          this.partialBytes += buf.length - from;
          break;
        }
        const piece = buf.subarray(from, nl);
        const line = this.partial.length === 0 ? piece : Buffer.concat([...this.partial, piece]);
        this.partial = [];
        this.partialBytes = 0;
        out.push(this.line(line));
        from = nl + 1;
      }
      return out;
    });
  }

  /** Call at the end of the input; throws if it stopped mid-line (unless allowed). */
  end(): RecordingItem[] {
    return this.guard(() => {
      if (this.partialBytes > 0 && !this.allowPartialTail) {
        throw badParameter("malformed recording: it ends in the middle of a line");
      }
      this.partial = [];
      this.partialBytes = 0;
      return [];
    });
  }

  /** The header, once the first line has been read. */
  get recordingHeader(): RecordingHeader | undefined {
    return this.header;
  }

  private guard<T>(f: () => T): T {
    if (this.failure !== undefined) throw this.failure;
    try {
      return f();
    } catch (e) {
      this.failure = e;
      this.partial = [];
      throw e;
    }
  }

  private line(bytes: Buffer): RecordingItem {
    let text: string;
    try {
      text = strictUtf8.decode(bytes);
    } catch {
      throw badParameter("malformed recording: a line is not valid UTF-8");
    }
    if (!this.header) {
      this.header = parseHeaderLine(text);
      return { type: "header", header: this.header };
    }
    if (this.ended) throw badParameter("malformed recording: events after the end event");
    const ev = parseEventLine(text);
    if (ev.time < this.lastTime) throw badParameter("malformed recording: events out of time order");
    this.lastTime = ev.time;
    if (ev.type === "end") this.ended = true;
    return ev;
  }
}

/** Reads a whole recording from a stream of byte chunks, yielding its items in order. */
export async function* parseRecording(chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, o: ParserOptions = {}): AsyncGenerator<RecordingItem> {
  const parser = new RecordingParser(o);
  for await (const chunk of chunks) yield* parser.push(chunk);
  yield* parser.end();
}
