/**
 * Playing recordings back (`jsh play`), printing them as JSON, and summarizing
 * them for listings.
 */
import { badParameter } from "../../../api/errors.ts";
import { type EndReason, parseRecording, type RecordingEvent, type RecordingHeader } from "./format.ts";

type Chunks = AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

export interface PlayOptions {
  /** 1 is real time, 2 twice as fast. */
  speed: number;
  write(text: string): void;
  /** Called for each resize event. */
  resize?(cols: number, rows: number): void;
  /** Injected in tests; defaults to a timer. */
  sleep?(ms: number): Promise<void>;
  /** The longest pause at speed 1 (default 2 s); divided by the speed like every pause. */
  maxPauseMs?: number;
}

export interface PlayResult {
  header: RecordingHeader;
  /** Seconds of the recording (its last event's time). */
  duration: number;
  /** How the session ended; undefined for a recording still being written. */
  endReason: EndReason | undefined;
}

/** Pauses shorter than this are saved up and taken together, to spare the timers. */
const MIN_SLEEP_MS = 10;

const timerSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Writes the recording's output with its original timing divided by `speed`.
 * A recording still being uploaded (cut mid-line) plays up to its last whole line.
 */
export async function play(chunks: Chunks, o: PlayOptions): Promise<PlayResult> {
  if (!Number.isFinite(o.speed) || o.speed <= 0) throw badParameter("the playback speed must be a positive number");
  const sleep = o.sleep ?? timerSleep;
  const maxPause = (o.maxPauseMs ?? 2000) / o.speed;
  let header: RecordingHeader | undefined;
  let last = 0;
  let owed = 0;
  let endReason: EndReason | undefined;
  for await (const item of parseRecording(chunks, { allowPartialTail: true })) {
    if (item.type === "header") {
      header = item.header;
      continue;
    }
    owed += Math.min(maxPause, ((item.time - last) * 1000) / o.speed);
    last = item.time;
    if (item.type === "end") {
      endReason = item.reason;
      continue;
    }
    if (owed >= MIN_SLEEP_MS) {
      await sleep(owed);
      owed = 0;
    }
    if (item.type === "output") o.write(item.data);
    else o.resize?.(item.cols, item.rows);
  }
  if (!header) throw badParameter("the recording is empty");
  return { header, duration: last, endReason };
}

export interface RecordingJson {
  header: RecordingHeader;
  events: RecordingEvent[];
}

/** The header and events as plain objects, for `jsh play --format json`. */
export async function toJsonEvents(chunks: Chunks): Promise<RecordingJson> {
  let header: RecordingHeader | undefined;
  const events: RecordingEvent[] = [];
  for await (const item of parseRecording(chunks, { allowPartialTail: true })) {
    if (item.type === "header") header = item.header;
    else events.push(item);
  }
  if (!header) throw badParameter("the recording is empty");
  return { header, events };
}

export interface RecordingSummary {
  sessionId: string;
  user: string;
  login: string;
  node: string;
  start: Date | undefined;
  /** Undefined while the session is still going (or was recorded before durations were kept). */
  durationMs: number | undefined;
}

/** A row of `jsh recordings ls`, from what ListRecordings returns. */
export function summary(info: { sessionId: string; metadata: Record<string, unknown> }): RecordingSummary {
  const m = info.metadata;
  const str = (k: string) => {
    const v = m[k];
    return typeof v === "string" ? v : "";
  };
  const start = typeof m.start === "string" ? new Date(m.start) : undefined;
  const duration = m.duration_ms;
  return {
    sessionId: info.sessionId,
    user: str("user"),
    login: str("login"),
    node: str("node_name"),
    start: start && !Number.isNaN(start.getTime()) ? start : undefined,
    durationMs: typeof duration === "number" && Number.isFinite(duration) && duration >= 0 ? duration : undefined,
  };
}

/** The same summary read from the recording itself (its header and last event). */
export async function summarizeRecording(chunks: Chunks): Promise<RecordingSummary> {
  let header: RecordingHeader | undefined;
  let last = 0;
  for await (const item of parseRecording(chunks, { allowPartialTail: true })) {
    if (item.type === "header") header = item.header;
    else last = item.time;
  }
  if (!header) throw badParameter("the recording is empty");
  const j = header.jumpgate;
  const start = new Date(j.start);
  return {
    sessionId: j.session_id,
    user: j.user,
    login: j.login,
    node: j.node_name,
    start: Number.isNaN(start.getTime()) ? undefined : start,
    durationMs: Math.round(last * 1000),
  };
}
