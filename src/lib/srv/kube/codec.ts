/**
 * Bytes ⇄ messages for recording `kubectl exec`/`attach` over WebSocket, read
 * as they pass by (never changed):
 *
 * - `WsFrameParser`: RFC 6455 frames from a byte stream, in any chunking, as
 *   message start / data / end events and control frames. It streams payloads
 *   (nothing bigger than a 14-byte header or a 125-byte control frame is ever
 *   held), and refuses what RFC 6455 forbids: reserved bits (no extension is
 *   negotiated), unknown opcodes, fragmented or long control frames, a
 *   continuation without a message, masking in the wrong direction, lengths
 *   beyond 2^53.
 * - `K8sChannelReader`: the Kubernetes remote-command framing on top — each
 *   message is one channel's data, the channel in its first byte (`*.channel.k8s.io`)
 *   or first character with base64 data (`*.base64.channel.k8s.io`):
 *   0 stdin, 1 stdout, 2 stderr, 3 error (a Status), 4 resize, 255 v5 close.
 */
import { JumpgateError } from "../../../api/errors.ts";

export class WsFrameError extends JumpgateError {
  /** What the bytes before the problem completed (in the chunk where it was found). */
  before: WsEvent[] = [];

  constructor(message: string) {
    super("bad-parameter", `invalid WebSocket stream: ${message}`);
    this.name = "WsFrameError";
  }
}

export const WS_OPCODES = { continuation: 0, text: 1, binary: 2, close: 8, ping: 9, pong: 10 } as const;

export type WsEvent =
  /** A text (1) or binary (2) message begins; its payload follows in `data` events. */
  | { type: "start"; opcode: 1 | 2 }
  | { type: "data"; data: Buffer }
  | { type: "end" }
  /** A whole control frame: close (8), ping (9), pong (10). */
  | { type: "control"; opcode: 8 | 9 | 10; data: Buffer };

/** Frames larger than this cannot come from a real peer (and would not fit a JS number). */
const MAX_PAYLOAD = Number.MAX_SAFE_INTEGER;

type State =
  | { at: "header" }
  | { at: "payload"; control: boolean; opcode: number; fin: boolean; remaining: number; mask: Buffer | undefined; maskAt: number; collected: Buffer[] };

export interface WsFrameParserOptions {
  /**
   * Which direction is read: frames from a client must be masked, frames
   * from a server must not (RFC 6455 §5.1).
   */
  from: "client" | "server";
}

export class WsFrameParser {
  private state: State = { at: "header" };
  private header = Buffer.alloc(0);
  private inMessage = false;
  private closed = false;
  private failed: WsFrameError | undefined;

  constructor(private readonly o: WsFrameParserOptions) {}

  /**
   * Reads the next bytes; returns what they complete. A problem throws a
   * `WsFrameError` whose `before` holds the events completed ahead of it;
   * after one error every call throws it again.
   */
  push(chunk: Buffer): WsEvent[] {
    if (this.failed) throw this.failed;
    const out: WsEvent[] = [];
    try {
      this.read(chunk, out);
      return out;
    } catch (e) {
      const err = e instanceof WsFrameError ? e : new WsFrameError(String(e));
      err.before = out;
      this.failed = err;
      throw err;
    }
  }

  private read(chunk: Buffer, out: WsEvent[]): void {
    let pos = 0;
    while (pos < chunk.length || (this.state.at === "payload" && this.state.remaining === 0)) {
      const s = this.state;
      if (s.at === "header") {
        if (this.closed) throw new WsFrameError("data after a close frame");
        const need = this.headerLength() ?? 2;
        const take = Math.min(chunk.length - pos, need - this.header.length);
        this.header = Buffer.concat([this.header, chunk.subarray(pos, pos + take)]);
        pos += take;
        const full = this.headerLength();
        if (full === undefined || this.header.length < full) continue;
        this.beginFrame(out);
        continue;
      }
      // Payload.
      const take = Math.min(chunk.length - pos, s.remaining);
      if (take > 0) {
        let piece = chunk.subarray(pos, pos + take);
        if (s.mask) {
          const copy = Buffer.allocUnsafe(piece.length);
          for (let i = 0; i < piece.length; i++) copy[i] = (piece[i] ?? 0) ^ (s.mask[(s.maskAt + i) & 3] ?? 0);
          s.maskAt = (s.maskAt + piece.length) & 3;
          piece = copy;
        }
        pos += take;
        s.remaining -= take;
        if (s.control) s.collected.push(piece);
        else out.push({ type: "data", data: piece });
      }
      if (s.remaining === 0) this.endFrame(s, out);
    }
  }

  /** The whole header's length once its first two bytes are in (undefined before). */
  private headerLength(): number | undefined {
    if (this.header.length < 2) return undefined;
    const b1 = this.header[1] ?? 0;
    const len7 = b1 & 0x7f;
    return 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + (b1 & 0x80 ? 4 : 0);
  }

  private beginFrame(out: WsEvent[]): void {
    const h = this.header;
    this.header = Buffer.alloc(0);
    const b0 = h[0] ?? 0;
    const b1 = h[1] ?? 0;
    const fin = (b0 & 0x80) !== 0;
    if (b0 & 0x70) throw new WsFrameError("reserved bits set (no extension was negotiated)");
    const opcode = b0 & 0x0f;
    const masked = (b1 & 0x80) !== 0;
    if (masked !== (this.o.from === "client")) {
      throw new WsFrameError(this.o.from === "client" ? "a client frame is not masked" : "a server frame is masked");
    }
    const len7 = b1 & 0x7f;
    let len: number;
    let at = 2;
    if (len7 === 126) {
      len = h.readUInt16BE(2);
      at = 4;
    } else if (len7 === 127) {
      const big = h.readBigUInt64BE(2);
      if (big > BigInt(MAX_PAYLOAD)) throw new WsFrameError("frame length out of range");
      len = Number(big);
      at = 10;
    } else len = len7;
    const mask = masked ? Buffer.from(h.subarray(at, at + 4)) : undefined;
    const control = opcode >= 8;
    if (control) {
      if (opcode > 10) throw new WsFrameError(`unknown opcode ${opcode}`);
      if (!fin) throw new WsFrameError("a fragmented control frame");
      if (len > 125) throw new WsFrameError("a control frame longer than 125 bytes");
    } else if (opcode === 0) {
      if (!this.inMessage) throw new WsFrameError("a continuation frame without a message");
    } else if (opcode === 1 || opcode === 2) {
      if (this.inMessage) throw new WsFrameError("a new message before the previous one ended");
      this.inMessage = true;
      out.push({ type: "start", opcode });
    } else {
      throw new WsFrameError(`unknown opcode ${opcode}`);
    }
    this.state = { at: "payload", control, opcode, fin, remaining: len, mask, maskAt: 0, collected: [] };
  }

  private endFrame(s: Extract<State, { at: "payload" }>, out: WsEvent[]): void {
    this.state = { at: "header" };
    if (s.control) {
      out.push({ type: "control", opcode: s.opcode as 8 | 9 | 10, data: Buffer.concat(s.collected) });
      if (s.opcode === 8) this.closed = true;
    } else if (s.fin) {
      this.inMessage = false;
      out.push({ type: "end" });
    }
  }
}

/** The Kubernetes remote-command channels. */
export const K8S_CHANNELS = { stdin: 0, stdout: 1, stderr: 2, error: 3, resize: 4, close: 255 } as const;

export type ChannelEncoding = "binary" | "base64";

/** The channel framing a negotiated subprotocol uses; undefined for other protocols (port-forward, …). */
export function channelEncoding(subprotocol: string): ChannelEncoding | undefined {
  const p = subprotocol.trim().toLowerCase();
  if (/^(v[2-5]\.)?channel\.k8s\.io$/.test(p)) return "binary";
  if (/^(v[2-4]\.)?base64\.channel\.k8s\.io$/.test(p)) return "base64";
  return undefined;
}

export interface ChannelSink {
  /** Bytes of one channel message, in order (a message may come in several pieces). */
  data(channel: number, data: Buffer): void;
  /** The channel message is complete. */
  end(channel: number): void;
}

/**
 * Splits WebSocket messages into channel data. Control frames and messages of
 * the wrong type (text on a binary protocol) are skipped: the API server and
 * kubectl decide what they mean, this only listens.
 */
export class K8sChannelReader {
  private channel: number | undefined;
  private awaitingChannel = false;
  private skip = false;
  /** base64: characters held back until a multiple of 4 arrives. */
  private pending = "";

  constructor(
    private readonly encoding: ChannelEncoding,
    private readonly sink: ChannelSink,
  ) {}

  push(events: readonly WsEvent[]): void {
    for (const ev of events) {
      switch (ev.type) {
        case "start":
          this.channel = undefined;
          this.pending = "";
          this.skip = ev.opcode !== (this.encoding === "binary" ? 2 : 1);
          this.awaitingChannel = !this.skip;
          break;
        case "data":
          if (!this.skip) this.data(ev.data);
          break;
        case "end":
          if (!this.skip && this.channel !== undefined) {
            if (this.encoding === "base64" && this.pending !== "") this.emit(Buffer.from(this.pending, "base64"));
            this.sink.end(this.channel);
          }
          this.channel = undefined;
          this.awaitingChannel = false;
          this.pending = "";
          break;
        case "control":
          break;
      }
    }
  }

  private data(chunk: Buffer): void {
    let rest = chunk;
    if (this.awaitingChannel) {
      if (rest.length === 0) return;
      const first = rest[0] ?? 0;
      if (this.encoding === "binary") this.channel = first;
      else {
        const digit = first - 0x30;
        if (digit < 0 || digit > 9) {
          // Not a data channel (the v5 base64 control character, or garbage): skip the message.
          this.skip = true;
          this.awaitingChannel = false;
          return;
        }
        this.channel = digit;
      }
      this.awaitingChannel = false;
      rest = rest.subarray(1);
    }
    if (rest.length === 0) return;
    if (this.encoding === "binary") {
      this.emit(rest);
      return;
    }
    const text = this.pending + rest.toString("latin1");
    const whole = text.length - (text.length % 4);
    this.pending = text.slice(whole);
    if (whole > 0) this.emit(Buffer.from(text.slice(0, whole), "base64"));
  }

  private emit(data: Buffer): void {
    if (this.channel !== undefined && data.length > 0) this.sink.data(this.channel, data);
  }
}

/** The exit status an error-channel Status reports: 0 for Success, the ExitCode cause, else undefined. */
export function exitCodeOfStatus(json: string): number | undefined {
  let s: unknown;
  try {
    s = JSON.parse(json);
  } catch {
    return undefined;
  }
  if (typeof s !== "object" || s === null) return undefined;
  const st = s as { status?: unknown; details?: { causes?: unknown } };
  if (st.status === "Success") return 0;
  const causes = Array.isArray(st.details?.causes) ? (st.details.causes as unknown[]) : [];
  for (const c of causes) {
    const cause = c as { reason?: unknown; message?: unknown };
    if (cause?.reason === "ExitCode" && typeof cause.message === "string" && /^\d{1,3}$/.test(cause.message)) return Number(cause.message);
  }
  return undefined;
}

/** A resize message (`{"Width":80,"Height":24}`), or undefined. */
export function parseResize(json: string): { cols: number; rows: number } | undefined {
  let s: unknown;
  try {
    s = JSON.parse(json);
  } catch {
    return undefined;
  }
  const r = s as { Width?: unknown; Height?: unknown } | null;
  if (typeof r?.Width !== "number" || typeof r.Height !== "number") return undefined;
  if (!Number.isInteger(r.Width) || !Number.isInteger(r.Height) || r.Width < 1 || r.Height < 1 || r.Width > 10000 || r.Height > 10000) return undefined;
  return { cols: r.Width, rows: r.Height };
}
