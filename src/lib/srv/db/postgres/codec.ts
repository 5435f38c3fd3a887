/**
 * PostgreSQL framing, bytes in and messages out, with no socket in sight.
 *
 * `FrontendReader` reads what a client sends: the startup-phase packets that
 * have no type byte (StartupMessage, SSLRequest, GSSENCRequest,
 * CancelRequest), then typed messages (type byte + int32 length). It is
 * incremental — any split of the input gives the same messages — keeps only
 * the body bytes the caller asks for (a COPY stream passes through without
 * being held), and throws a `PgProtocolError` on malformed input.
 *
 * `BackendReader` reads typed server messages whole (the upstream startup
 * phase); `BackendFramer` only finds server message boundaries, so the relay
 * can stop between two messages when the server goes away.
 */
import { malformed, tooLarge, unsupported } from "./errors.ts";

/** The server's own cap for startup packets (MAX_STARTUP_PACKET_LENGTH). */
export const STARTUP_MAX = 10_000;
/** Hard cap for one message body, as the server's. */
export const MESSAGE_MAX = 0x3fff_ffff;

export const SSL_REQUEST_CODE = 80877103;
export const GSSENC_REQUEST_CODE = 80877104;
export const CANCEL_REQUEST_CODE = 80877102;
export const PROTOCOL_3_0 = 196608;

/** Frontend message types of protocol 3.0. */
const FRONTEND_TYPES = new Set("BCdcfDEHFPpQSX".split("").map((c) => c.charCodeAt(0)));

export type StartupPacket =
  | { kind: "ssl" }
  | { kind: "gssenc" }
  | { kind: "cancel"; pid: number; secret: Buffer }
  | {
      kind: "startup";
      major: number;
      minor: number;
      params: Map<string, string>;
    };

/** A typed message. `body` is at most the kept prefix when `truncated`. */
export interface PgMessage {
  type: string;
  /** Declared body length (without type byte and length field). */
  length: number;
  body: Buffer;
  truncated: boolean;
}

export type FrontendItem = { startup: StartupPacket } | { message: PgMessage };

export interface ReaderOptions {
  /** Largest accepted body (default MESSAGE_MAX). */
  maxMessage?: number;
  /** How many body bytes to keep for a message type (default: all). Bytes past it are skipped unbuffered. */
  keep?: (type: number) => number;
  /** Start in the typed phase (after the startup packet). */
  typed?: boolean;
}

/** Parses a startup-phase packet: `body` follows the length field (code first). */
export function decodeStartupPacket(body: Buffer): StartupPacket {
  if (body.length < 4) throw malformed("startup packet too short");
  const code = body.readInt32BE(0);
  if (code === SSL_REQUEST_CODE || code === GSSENC_REQUEST_CODE) {
    if (body.length !== 4) throw malformed("invalid length of an SSL or GSSENC request");
    return code === SSL_REQUEST_CODE ? { kind: "ssl" } : { kind: "gssenc" };
  }
  if (code === CANCEL_REQUEST_CODE) {
    // 3.0 keys are 4 bytes; 3.2 allows up to 256.
    if (body.length < 12 || body.length > 8 + 256) throw malformed("invalid length of a cancel request");
    return {
      kind: "cancel",
      pid: body.readInt32BE(4),
      secret: Buffer.from(body.subarray(8)),
    };
  }
  const major = code >>> 16;
  const minor = code & 0xffff;
  if (major !== 3) throw unsupported(`unsupported frontend protocol ${major}.${minor}: this server supports 3.0`);
  const params = new Map<string, string>();
  let pos = 4;
  for (;;) {
    const end = body.indexOf(0, pos);
    if (end < 0) throw malformed("startup packet has no terminator");
    if (end === pos) {
      if (end !== body.length - 1) throw malformed("startup packet has bytes after its terminator");
      break;
    }
    const name = body.toString("utf8", pos, end);
    const vEnd = body.indexOf(0, end + 1);
    if (vEnd < 0) throw malformed(`startup parameter "${name.slice(0, 64)}" has no value`);
    if (params.has(name)) throw malformed(`startup parameter "${name.slice(0, 64)}" given twice`);
    params.set(name, body.toString("utf8", end + 1, vEnd));
    pos = vEnd + 1;
  }
  if (!params.has("user")) throw malformed("no PostgreSQL user name specified in startup packet");
  return { kind: "startup", major, minor, params };
}

/**
 * Takes one startup-phase packet off the front of `buf` (length-prefixed, no
 * type byte): undefined while it is incomplete, and the bytes after it.
 */
export function takeStartupPacket(buf: Buffer): { packet: StartupPacket; rest: Buffer } | undefined {
  if (buf.length < 4) return undefined;
  const len = buf.readInt32BE(0);
  if (len < 8 || len > STARTUP_MAX) throw malformed(`invalid length of startup packet: ${len}`);
  if (buf.length < len) return undefined;
  return {
    packet: decodeStartupPacket(Buffer.from(buf.subarray(4, len))),
    rest: buf.subarray(len),
  };
}

/** Incremental reader of a client's byte stream. */
export class FrontendReader {
  private typed: boolean;
  private readonly maxMessage: number;
  private readonly keep: (type: number) => number;
  /** Header bytes gathered so far (5 typed, 4 startup). */
  private readonly header = Buffer.alloc(5);
  private headerLen = 0;
  /** The message whose body is being read, if any. */
  private current:
    | {
        type: number;
        length: number;
        remaining: number;
        keep: number;
        parts: Buffer[];
        kept: number;
      }
    | undefined;
  private cancelled = false;

  constructor(opts: ReaderOptions = {}) {
    this.typed = opts.typed ?? false;
    this.maxMessage = opts.maxMessage ?? MESSAGE_MAX;
    this.keep = opts.keep ?? (() => Number.POSITIVE_INFINITY);
  }

  /** True between two messages (nothing partial held). */
  atBoundary(): boolean {
    return this.headerLen === 0 && this.current === undefined;
  }

  /** Feeds bytes; returns every item completed by them. Throws PgProtocolError on malformed input. */
  feed(chunk: Buffer): FrontendItem[] {
    const out: FrontendItem[] = [];
    let pos = 0;
    while (pos < chunk.length) {
      if (this.cancelled) throw malformed("unexpected bytes after a cancel request");
      if (this.current === undefined) {
        const need = this.typed ? 5 : 4;
        const n = Math.min(need - this.headerLen, chunk.length - pos);
        chunk.copy(this.header, this.headerLen, pos, pos + n);
        this.headerLen += n;
        pos += n;
        if (this.headerLen < need) break;
        this.headerLen = 0;
        this.begin();
      }
      const cur = this.current;
      if (cur === undefined) continue;
      const n = Math.min(cur.remaining, chunk.length - pos);
      const k = Math.min(n, cur.keep - cur.kept);
      if (k > 0) {
        cur.parts.push(chunk.subarray(pos, pos + k));
        cur.kept += k;
      }
      cur.remaining -= n;
      pos += n;
      if (cur.remaining === 0) out.push(this.finish());
    }
    return out;
  }

  private begin(): void {
    if (this.typed) {
      const type = this.header[0] ?? 0;
      const len = this.header.readInt32BE(1);
      if (!FRONTEND_TYPES.has(type)) throw malformed(`invalid frontend message type ${type}`);
      if (len < 4) throw malformed(`invalid message length ${len}`);
      if (len - 4 > this.maxMessage) throw tooLarge(`message of ${len - 4} bytes exceeds the limit of ${this.maxMessage}`);
      const keep = Math.max(0, this.keep(type));
      this.current = {
        type,
        length: len - 4,
        remaining: len - 4,
        keep,
        parts: [],
        kept: 0,
      };
    } else {
      const len = this.header.readInt32BE(0);
      if (len < 8 || len > STARTUP_MAX) throw malformed(`invalid length of startup packet: ${len}`);
      this.current = {
        type: 0,
        length: len - 4,
        remaining: len - 4,
        keep: STARTUP_MAX,
        parts: [],
        kept: 0,
      };
    }
  }

  private finish(): FrontendItem {
    const cur = this.current;
    this.current = undefined;
    if (cur === undefined) throw malformed("internal reader state");
    const body = cur.parts.length === 1 ? (cur.parts[0] as Buffer) : Buffer.concat(cur.parts, cur.kept);
    if (cur.type === 0) {
      const startup = decodeStartupPacket(Buffer.from(body));
      if (startup.kind === "startup") this.typed = true;
      if (startup.kind === "cancel") this.cancelled = true;
      return { startup };
    }
    // Kept bytes may point into the caller's chunk; copy them so the chunk can be reused.
    const own = cur.parts.length === 1 ? Buffer.from(body) : body;
    return {
      message: {
        type: String.fromCharCode(cur.type),
        length: cur.length,
        body: own,
        truncated: cur.kept < cur.length,
      },
    };
  }
}

/** Incremental reader of whole server messages (the upstream startup phase). */
export class BackendReader {
  private buf: Buffer = Buffer.alloc(0);
  constructor(private readonly maxMessage = 1 << 20) {}

  feed(chunk: Buffer): PgMessage[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const out: PgMessage[] = [];
    while (this.buf.length >= 5) {
      const len = this.buf.readInt32BE(1);
      if (len < 4) throw malformed(`invalid server message length ${len}`);
      if (len - 4 > this.maxMessage) throw tooLarge(`server message of ${len - 4} bytes exceeds the limit`);
      if (this.buf.length < len + 1) break;
      const type = String.fromCharCode(this.buf[0] ?? 0);
      out.push({
        type,
        length: len - 4,
        body: Buffer.from(this.buf.subarray(5, len + 1)),
        truncated: false,
      });
      this.buf = this.buf.subarray(len + 1);
    }
    return out;
  }

  /** Bytes received after the last complete message. */
  rest(): Buffer {
    return this.buf;
  }
}

/**
 * Finds server message boundaries without keeping messages: `push` returns
 * the bytes that end on a boundary (or belong to a message too large to
 * hold), holding back the start of a small partial message until it is whole.
 */
export class BackendFramer {
  private readonly header = Buffer.alloc(5);
  private headerLen = 0;
  private remaining = 0;
  private held: Buffer[] = [];
  private streaming = false;
  /** Type of the last complete message. */
  lastType = "";

  constructor(private readonly holdMax = 1 << 20) {}

  atBoundary(): boolean {
    return this.headerLen === 0 && this.remaining === 0 && !this.streaming;
  }

  /** True when everything passed on so far ends on a message boundary (a message of ours may follow). */
  canInterject(): boolean {
    return !this.streaming;
  }

  push(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    let pos = 0;
    let from = 0;
    let boundary = -1;
    while (pos < chunk.length) {
      if (this.remaining === 0) {
        const n = Math.min(5 - this.headerLen, chunk.length - pos);
        chunk.copy(this.header, this.headerLen, pos, pos + n);
        this.headerLen += n;
        pos += n;
        if (this.headerLen < 5) break;
        this.headerLen = 0;
        const len = this.header.readInt32BE(1);
        if (len < 4) throw malformed(`invalid server message length ${len}`);
        this.remaining = len - 4;
        this.streaming = len - 4 > this.holdMax;
        if (this.remaining === 0) {
          this.lastType = String.fromCharCode(this.header[0] ?? 0);
          boundary = pos;
          continue;
        }
      }
      const n = Math.min(this.remaining, chunk.length - pos);
      this.remaining -= n;
      pos += n;
      if (this.remaining === 0) {
        this.lastType = String.fromCharCode(this.header[0] ?? 0);
        this.streaming = false;
        boundary = pos;
      }
    }
    if (this.streaming) {
      // A large message flows through as it comes.
      out.push(...this.held, chunk.subarray(from));
      this.held = [];
      return out;
    }
    if (boundary >= 0) {
      out.push(...this.held, chunk.subarray(from, boundary));
      this.held = [];
      from = boundary;
    }
    if (from < chunk.length) this.held.push(chunk.subarray(from));
    return out;
  }
}
