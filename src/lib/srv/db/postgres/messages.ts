/**
 * PostgreSQL message bodies: decoders for what audit and the upstream login
 * need, encoders for what the engine says itself. Pure functions over
 * Buffers; malformed bodies throw a `PgProtocolError`.
 */
import { CANCEL_REQUEST_CODE, PROTOCOL_3_0, SSL_REQUEST_CODE } from "./codec.ts";
import { malformed } from "./errors.ts";

/** Bounds-checked reads over one message body. */
export class Cursor {
  pos = 0;
  constructor(
    private readonly buf: Buffer,
    private readonly what: string,
  ) {}
  private need(n: number): void {
    if (n < 0 || this.pos + n > this.buf.length) throw malformed(`${this.what} message is too short`);
  }
  int16(): number {
    this.need(2);
    const v = this.buf.readInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  int32(): number {
    this.need(4);
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  byte(): number {
    this.need(1);
    return this.buf[this.pos++] ?? 0;
  }
  bytes(n: number): Buffer {
    this.need(n);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }
  cstring(): string {
    const end = this.buf.indexOf(0, this.pos);
    if (end < 0) throw malformed(`${this.what} message has an unterminated string`);
    const v = this.buf.toString("utf8", this.pos, end);
    this.pos = end + 1;
    return v;
  }
  rest(): Buffer {
    const v = this.buf.subarray(this.pos);
    this.pos = this.buf.length;
    return v;
  }
  end(): void {
    if (this.pos !== this.buf.length) throw malformed(`${this.what} message has trailing bytes`);
  }
}

// ---- Frontend messages (client → server) ----

export interface ParseMessage {
  name: string;
  query: string;
  paramTypes: number[];
}
export interface BindMessage {
  portal: string;
  statement: string;
  paramFormats: number[];
  /** Text-format values as strings, binary ones as `\x` + hex, NULL as null. */
  params: (string | null)[];
  resultFormats: number[];
}

export function decodeQuery(body: Buffer): string {
  const c = new Cursor(body, "Query");
  const text = c.cstring();
  c.end();
  return text;
}

export function decodeParse(body: Buffer): ParseMessage {
  const c = new Cursor(body, "Parse");
  const name = c.cstring();
  const query = c.cstring();
  const n = c.int16();
  if (n < 0) throw malformed("Parse message has a negative parameter count");
  const paramTypes: number[] = [];
  for (let i = 0; i < n; i++) paramTypes.push(c.int32() >>> 0);
  c.end();
  return { name, query, paramTypes };
}

function formatCodes(c: Cursor, what: string): number[] {
  const n = c.int16();
  if (n < 0) throw malformed(`Bind message has a negative ${what} format count`);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const f = c.int16();
    if (f !== 0 && f !== 1) throw malformed(`Bind message has an invalid ${what} format ${f}`);
    out.push(f);
  }
  return out;
}

export function decodeBind(body: Buffer): BindMessage {
  const c = new Cursor(body, "Bind");
  const portal = c.cstring();
  const statement = c.cstring();
  const paramFormats = formatCodes(c, "parameter");
  const n = c.int16();
  if (n < 0) throw malformed("Bind message has a negative parameter count");
  if (paramFormats.length > 1 && paramFormats.length !== n) {
    throw malformed(`Bind message has ${paramFormats.length} parameter formats for ${n} parameters`);
  }
  const params: (string | null)[] = [];
  for (let i = 0; i < n; i++) {
    const len = c.int32();
    if (len === -1) {
      params.push(null);
      continue;
    }
    if (len < 0) throw malformed(`Bind message has an invalid parameter length ${len}`);
    const v = c.bytes(len);
    const binary = (paramFormats.length === 1 ? paramFormats[0] : paramFormats[i]) === 1;
    params.push(binary ? `\\x${v.toString("hex")}` : v.toString("utf8"));
  }
  const resultFormats = formatCodes(c, "result");
  c.end();
  return { portal, statement, paramFormats, params, resultFormats };
}

export function decodeExecute(body: Buffer): {
  portal: string;
  maxRows: number;
} {
  const c = new Cursor(body, "Execute");
  const portal = c.cstring();
  const maxRows = c.int32();
  c.end();
  return { portal, maxRows };
}

/** Close and Describe: 'S' (statement) or 'P' (portal) and a name. */
export function decodeTarget(body: Buffer, what: string): { kind: "S" | "P"; name: string } {
  const c = new Cursor(body, what);
  const kind = String.fromCharCode(c.byte());
  if (kind !== "S" && kind !== "P") throw malformed(`${what} message has an invalid target type`);
  const name = c.cstring();
  c.end();
  return { kind, name };
}

export function decodeCopyFail(body: Buffer): string {
  const c = new Cursor(body, "CopyFail");
  const m = c.cstring();
  c.end();
  return m;
}

// ---- Backend messages (server → client) ----

export type AuthRequest =
  | { kind: "ok" }
  | { kind: "cleartext" }
  | { kind: "md5"; salt: Buffer }
  | { kind: "sasl"; mechanisms: string[] }
  | { kind: "sasl-continue"; data: Buffer }
  | { kind: "sasl-final"; data: Buffer }
  | { kind: "other"; code: number };

export function decodeAuthentication(body: Buffer): AuthRequest {
  const c = new Cursor(body, "Authentication");
  const code = c.int32();
  switch (code) {
    case 0:
      c.end();
      return { kind: "ok" };
    case 3:
      c.end();
      return { kind: "cleartext" };
    case 5: {
      const salt = Buffer.from(c.bytes(4));
      c.end();
      return { kind: "md5", salt };
    }
    case 10: {
      const mechanisms: string[] = [];
      for (let m = c.cstring(); m !== ""; m = c.cstring()) mechanisms.push(m);
      c.end();
      return { kind: "sasl", mechanisms };
    }
    case 11:
      return { kind: "sasl-continue", data: Buffer.from(c.rest()) };
    case 12:
      return { kind: "sasl-final", data: Buffer.from(c.rest()) };
    default:
      return { kind: "other", code };
  }
}

/** ErrorResponse and NoticeResponse: field code → value. */
export function decodeFields(body: Buffer): Map<string, string> {
  const c = new Cursor(body, "ErrorResponse");
  const fields = new Map<string, string>();
  for (let code = c.byte(); code !== 0; code = c.byte()) fields.set(String.fromCharCode(code), c.cstring());
  c.end();
  return fields;
}

export function decodeParameterStatus(body: Buffer): {
  name: string;
  value: string;
} {
  const c = new Cursor(body, "ParameterStatus");
  const name = c.cstring();
  const value = c.cstring();
  c.end();
  return { name, value };
}

export function decodeBackendKeyData(body: Buffer): {
  pid: number;
  secret: Buffer;
} {
  const c = new Cursor(body, "BackendKeyData");
  const pid = c.int32();
  const secret = Buffer.from(c.rest());
  if (secret.length < 4 || secret.length > 256) throw malformed("BackendKeyData has an invalid key length");
  return { pid, secret };
}

export function decodeReadyForQuery(body: Buffer): "I" | "T" | "E" {
  const c = new Cursor(body, "ReadyForQuery");
  const s = String.fromCharCode(c.byte());
  c.end();
  if (s !== "I" && s !== "T" && s !== "E") throw malformed(`ReadyForQuery has an invalid status ${s}`);
  return s;
}

// ---- Encoders ----

/** A typed message: type byte, int32 length, body. */
export function message(type: string, ...parts: Buffer[]): Buffer {
  const len = parts.reduce((n, p) => n + p.length, 4);
  const head = Buffer.alloc(5);
  head.write(type, 0, "latin1");
  head.writeInt32BE(len, 1);
  return Buffer.concat([head, ...parts], len + 1);
}

const cstr = (s: string) => Buffer.from(`${s}\0`, "utf8");
const int32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n | 0);
  return b;
};

export interface ErrorFields {
  severity: "ERROR" | "FATAL" | "PANIC" | "WARNING" | "NOTICE" | "DEBUG" | "INFO" | "LOG";
  code: string;
  message: string;
  detail?: string;
  hint?: string;
}

function fields(f: ErrorFields): Buffer {
  const parts = [`S${f.severity}`, `V${f.severity}`, `C${f.code}`, `M${f.message}`];
  if (f.detail !== undefined) parts.push(`D${f.detail}`);
  if (f.hint !== undefined) parts.push(`H${f.hint}`);
  // A NUL inside a value would end the field early; drop it.
  return Buffer.concat([...parts.map((p) => cstr(p.replaceAll("\0", ""))), Buffer.from([0])]);
}

export const errorResponse = (f: ErrorFields) => message("E", fields(f));
export const noticeResponse = (f: ErrorFields) => message("N", fields(f));
/** An ErrorResponse from already-decoded server fields, passed on as they are. */
export const errorResponseFrom = (f: ReadonlyMap<string, string>) =>
  message("E", ...[...f].map(([k, v]) => cstr(`${k}${v.replaceAll("\0", "")}`)), Buffer.from([0]));
export const authenticationOk = () => message("R", int32(0));
export const parameterStatus = (name: string, value: string) => message("S", cstr(name), cstr(value));
export const backendKeyData = (pid: number, secret: Buffer) => message("K", int32(pid), secret);
export const readyForQuery = (status: "I" | "T" | "E") => message("Z", Buffer.from(status, "latin1"));
/** The newest minor version we speak, and the startup options we did not recognize. */
export const negotiateProtocolVersion = (minor: number, unrecognized: string[]) =>
  message("v", int32(minor), int32(unrecognized.length), ...unrecognized.map(cstr));

/** Frontend messages the engine sends upstream. */
export function startupMessage(params: ReadonlyMap<string, string>): Buffer {
  const body = Buffer.concat([int32(PROTOCOL_3_0), ...[...params].flatMap(([k, v]) => [cstr(k), cstr(v)]), Buffer.from([0])]);
  return Buffer.concat([int32(body.length + 4), body]);
}
export const sslRequest = () => Buffer.concat([int32(8), int32(SSL_REQUEST_CODE)]);
export const cancelRequest = (pid: number, secret: Buffer) => Buffer.concat([int32(12 + secret.length), int32(CANCEL_REQUEST_CODE), int32(pid), secret]);
export const passwordMessage = (password: string) => message("p", cstr(password));
export const saslInitialResponse = (mechanism: string, data: Buffer) => message("p", cstr(mechanism), int32(data.length), data);
export const saslResponse = (data: Buffer) => message("p", data);
export const terminate = () => message("X");
