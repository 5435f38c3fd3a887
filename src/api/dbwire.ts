/**
 * Database access on the wire, shared by the proxy (`lib/proxy/dbproxy`), the
 * Database Service (`lib/srv/db`) and `jsh proxy db` (`lib/client`), so that
 * none of them imports another (DESIGN §7):
 *
 * - the **connection header** the proxy sends first on every stream it opens to
 *   a Database Service: `"JGDB"`, a big-endian uint32 length, then that many
 *   bytes of UTF-8 JSON `{"v":1,"cert":PEM,"clientAddr":"IP:PORT","database":NAME}`.
 *   `cert` is the client certificate chain the user presented to the proxy,
 *   leaf first; the service verifies it itself against the user CA;
 * - the Postgres packets a server must understand before TLS (SSLRequest,
 *   GSSENCRequest, CancelRequest, StartupMessage);
 * - the two refusals every path sends before a protocol engine is reached: a
 *   Postgres ErrorResponse (FATAL, SQLSTATE 28000) and a MySQL ERR packet
 *   (1045, SQLSTATE 28000) — what `psql` and `mysql` print.
 */
import { randomBytes } from "node:crypto";
import type { Duplex } from "node:stream";
import { decodeStreamHeader, encodeStreamHeader, type HeaderKind, type HeaderParse } from "./streamheader.ts";

// ---- connection header -------------------------------------------------

export const DB_HEADER_MAGIC = Buffer.from("JGDB", "latin1");
/** The largest header body either side accepts (a PEM chain is ~1–3 KiB). */
export const MAX_DB_HEADER_BYTES = 64 * 1024;

export type DbConnHeader = {
  /** PEM certificates the client presented, leaf first. */
  cert: string;
  /** The user's address as the proxy saw it. */
  clientAddr: string;
  /** The database the proxy routed to (the certificate's route-to-database service name). */
  database: string;
};

const DB_HEADER: HeaderKind<DbConnHeader> = {
  magic: DB_HEADER_MAGIC,
  maxBytes: MAX_DB_HEADER_BYTES,
  label: "database connection header",
  fields: ["cert", "clientAddr", "database"],
};

export function encodeDbHeader(h: DbConnHeader): Buffer {
  return encodeStreamHeader(DB_HEADER, h);
}

export type DbHeaderParse = HeaderParse<DbConnHeader>;

/** Pure: reads a header from the start of `buf`. Throws `bad-parameter` on anything malformed. */
export function decodeDbHeader(buf: Buffer): DbHeaderParse {
  return decodeStreamHeader(DB_HEADER, buf);
}

// ---- which database the client means -----------------------------------

/**
 * `jsh proxy db NAME` and `jsh db connect NAME` send `NAME` + this suffix as
 * the server name (SNI) of the TLS they run inside the database route, so the
 * proxy can refuse a certificate issued for another database instead of
 * silently routing to that one. `.invalid` is reserved: it never names a host.
 */
export const DB_SNI_SUFFIX = ".db.jumpgate.invalid";

export function dbSni(database: string): string {
  return `${database}${DB_SNI_SUFFIX}`;
}

/** The database a client named in its SNI; undefined when the SNI is absent or something else (a psql's host name). */
export function databaseFromSni(sni: string | false | null | undefined): string | undefined {
  if (typeof sni !== "string" || !sni.toLowerCase().endsWith(DB_SNI_SUFFIX) || sni.length === DB_SNI_SUFFIX.length) return undefined;
  return sni.slice(0, -DB_SNI_SUFFIX.length);
}

// ---- Postgres before TLS -----------------------------------------------

export const PG_SSL_REQUEST_CODE = 80877103;
export const PG_GSSENC_REQUEST_CODE = 80877104;
export const PG_CANCEL_REQUEST_CODE = 80877102;
export const PG_PROTOCOL_V3 = 196608;
/** The largest StartupMessage we read before refusing (libpq's limit is 10 000). */
export const PG_MAX_STARTUP_BYTES = 10_000;

export type PgPreStartup = { kind: "need-more" } | { kind: "ssl" | "gssenc" | "cancel" | "startup"; length: number } | { kind: "invalid"; reason: string };

/** Pure: classifies the untyped packet a Postgres client sends first (length, then a code). */
export function classifyPgPreStartup(buf: Buffer): PgPreStartup {
  if (buf.length < 8) return { kind: "need-more" };
  const length = buf.readUInt32BE(0);
  const code = buf.readUInt32BE(4);
  if (length < 8 || length > PG_MAX_STARTUP_BYTES) return { kind: "invalid", reason: `bad startup packet length ${length}` };
  if (code === PG_SSL_REQUEST_CODE || code === PG_GSSENC_REQUEST_CODE) {
    return length === 8 ? { kind: code === PG_SSL_REQUEST_CODE ? "ssl" : "gssenc", length } : { kind: "invalid", reason: "bad request length" };
  }
  if (code === PG_CANCEL_REQUEST_CODE) return length === 16 ? { kind: "cancel", length } : { kind: "invalid", reason: "bad cancel request length" };
  if (code >>> 16 === 3) return { kind: "startup", length };
  return { kind: "invalid", reason: `unsupported protocol ${code >>> 16}.${code & 0xffff}` };
}

/** True when the first bytes could be a Postgres packet sent before TLS (used by the proxy's port multiplexer). */
export function looksLikePgPreStartup(buf: Buffer): boolean | undefined {
  if (buf.length < 8) return buf.length === 0 || buf[0] === 0 ? undefined : false;
  const c = classifyPgPreStartup(buf);
  return c.kind !== "invalid" && c.kind !== "need-more";
}

// ---- refusals ----------------------------------------------------------

/** A Postgres ErrorResponse: severity, SQLSTATE and message; `psql` prints `FATAL:  <message>`. */
export function pgErrorResponse(message: string, o: { severity?: string; code?: string } = {}): Buffer {
  const severity = o.severity ?? "FATAL";
  const field = (t: string, v: string) => Buffer.concat([Buffer.from(t, "latin1"), Buffer.from(v.replaceAll("\0", ""), "utf8"), Buffer.from([0])]);
  const body = Buffer.concat([field("S", severity), field("V", severity), field("C", o.code ?? "28000"), field("M", message), Buffer.from([0])]);
  const head = Buffer.alloc(5);
  head.write("E", 0, "latin1");
  head.writeUInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

/** A MySQL ERR packet (sequence id `seq`, default 0: the first packet); `mysql` prints `ERROR 1045 (28000): <message>`. */
export function mysqlErrPacket(message: string, o: { code?: number; sqlState?: string; seq?: number } = {}): Buffer {
  const msg = Buffer.from(message, "utf8").subarray(0, 0xffff);
  const payload = Buffer.alloc(1 + 2 + 1 + 5);
  payload[0] = 0xff;
  payload.writeUInt16LE(o.code ?? 1045, 1);
  payload.write("#", 3, "latin1");
  payload.write((o.sqlState ?? "28000").padEnd(5, "0").slice(0, 5), 4, "latin1");
  const body = Buffer.concat([payload, msg]);
  const head = Buffer.alloc(4);
  head.writeUIntLE(body.length, 0, 3);
  head[3] = (o.seq ?? 0) & 0xff;
  return Buffer.concat([head, body]);
}

/** The refusal a client of `protocol` prints. */
export function dbRefusal(protocol: string, message: string): Buffer {
  return protocol === "mysql" ? mysqlErrPacket(message) : pgErrorResponse(message);
}

/**
 * A MySQL server greeting (HandshakeV10, protocol 4.1, mysql_native_password,
 * no TLS offered) sent before a refusal: MariaDB's client prints an ERR that
 * comes in place of the greeting as "ERROR 2002 (HY000): Received error packet
 * before completion of TLS handshake. The authenticity of the following error
 * cannot be verified: …", and one that answers its login as `ERROR 1045 (28000): …`.
 */
export function mysqlRefusalGreeting(): Buffer {
  // LONG_PASSWORD | CONNECT_WITH_DB | PROTOCOL_41 | SECURE_CONNECTION | PLUGIN_AUTH
  const caps = 0x1 | 0x8 | 0x200 | 0x8000 | 0x80000;
  const scramble = Buffer.from(randomBytes(20).map((b) => 0x21 + (b % 94)));
  const u16 = (v: number) => Buffer.from([v & 0xff, (v >>> 8) & 0xff]);
  const body = Buffer.concat([
    Buffer.from([10]),
    Buffer.from("8.0.0-Jumpgate\0", "latin1"),
    Buffer.alloc(4),
    scramble.subarray(0, 8),
    Buffer.alloc(1),
    u16(caps & 0xffff),
    Buffer.from([45]),
    u16(0x0002),
    u16(caps >>> 16),
    Buffer.from([21]),
    Buffer.alloc(10),
    scramble.subarray(8),
    Buffer.alloc(1),
    Buffer.from("mysql_native_password\0", "latin1"),
  ]);
  const head = Buffer.alloc(4);
  head.writeUIntLE(body.length, 0, 3);
  return Buffer.concat([head, body]);
}

/**
 * Sends the refusal a client prints, then closes. A Postgres client speaks
 * first (StartupMessage): wait for it, so closing does not reset the
 * connection before the client reads the error. A MySQL client waits for the
 * server: greet it, and refuse its login (`ERROR 1045 (28000): …`). Without an
 * answer in `waitMs` the error is sent anyway.
 */
export function sendDbRefusal(s: Duplex, protocol: string, message: string, waitMs = 2_000): void {
  if (s.destroyed) return;
  const mysql = protocol === "mysql";
  const send = (chunk?: Buffer) => {
    s.off("data", send);
    clearTimeout(timer);
    if (s.destroyed) return;
    // The ERR answers the client's packet: its sequence id plus one.
    const seq = chunk !== undefined && chunk.length >= 4 ? ((chunk[3] ?? 0) + 1) & 0xff : 0;
    s.end(mysql ? mysqlErrPacket(message, { seq }) : pgErrorResponse(message));
  };
  const timer = setTimeout(() => send(), waitMs);
  if (mysql) s.write(mysqlRefusalGreeting());
  s.on("data", send);
  s.resume();
}
