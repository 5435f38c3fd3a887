/**
 * The login packets and the few server packets the engine writes, pure:
 * Handshake v10 (both directions), HandshakeResponse41 and SSLRequest, OK,
 * ERR, EOF and AuthSwitchRequest. Command packets live in commands.ts.
 */
import { malformed, unsupported } from "./errors.ts";
import { cstr, lenencBytes, lenencInt, Reader, u16, u32 } from "./wire.ts";

/** Capability flags (the low 32 bits; MariaDB's extended ones are separate). */
export const CAP = {
  LONG_PASSWORD: 1,
  FOUND_ROWS: 1 << 1,
  LONG_FLAG: 1 << 2,
  CONNECT_WITH_DB: 1 << 3,
  NO_SCHEMA: 1 << 4,
  COMPRESS: 1 << 5,
  ODBC: 1 << 6,
  LOCAL_FILES: 1 << 7,
  IGNORE_SPACE: 1 << 8,
  PROTOCOL_41: 1 << 9,
  INTERACTIVE: 1 << 10,
  SSL: 1 << 11,
  IGNORE_SIGPIPE: 1 << 12,
  TRANSACTIONS: 1 << 13,
  RESERVED: 1 << 14,
  SECURE_CONNECTION: 1 << 15,
  MULTI_STATEMENTS: 1 << 16,
  MULTI_RESULTS: 1 << 17,
  PS_MULTI_RESULTS: 1 << 18,
  PLUGIN_AUTH: 1 << 19,
  CONNECT_ATTRS: 1 << 20,
  PLUGIN_AUTH_LENENC_CLIENT_DATA: 1 << 21,
  CAN_HANDLE_EXPIRED_PASSWORDS: 1 << 22,
  SESSION_TRACK: 1 << 23,
  DEPRECATE_EOF: 1 << 24,
  OPTIONAL_RESULTSET_METADATA: 1 << 25,
  ZSTD_COMPRESSION: 1 << 26,
  QUERY_ATTRIBUTES: 1 << 27,
  MULTI_FACTOR_AUTH: 1 << 28,
} as const;

/**
 * What the engine offers a client: the wire formats every MySQL 5.7+/8 and
 * MariaDB 10.2+ server speaks, so the session can be relayed byte for byte
 * once the server accepted the same flags. Not offered: SSL (the proxy
 * terminated TLS already), compression, query attributes, optional metadata,
 * and MariaDB's extended flags (they change packet formats we audit).
 */
export const SERVER_CAPS =
  (CAP.LONG_PASSWORD |
    CAP.FOUND_ROWS |
    CAP.LONG_FLAG |
    CAP.CONNECT_WITH_DB |
    CAP.NO_SCHEMA |
    CAP.ODBC |
    CAP.LOCAL_FILES |
    CAP.IGNORE_SPACE |
    CAP.PROTOCOL_41 |
    CAP.INTERACTIVE |
    CAP.IGNORE_SIGPIPE |
    CAP.TRANSACTIONS |
    CAP.RESERVED |
    CAP.SECURE_CONNECTION |
    CAP.MULTI_STATEMENTS |
    CAP.MULTI_RESULTS |
    CAP.PS_MULTI_RESULTS |
    CAP.PLUGIN_AUTH |
    CAP.CONNECT_ATTRS |
    CAP.PLUGIN_AUTH_LENENC_CLIENT_DATA |
    CAP.SESSION_TRACK |
    CAP.DEPRECATE_EOF) >>>
  0;

/** Server status flags the engine looks at. */
export const STATUS = {
  AUTOCOMMIT: 0x0002,
  MORE_RESULTS_EXISTS: 0x0008,
  CURSOR_EXISTS: 0x0040,
} as const;

export const NATIVE_PASSWORD = "mysql_native_password";

// ---- Handshake v10 ------------------------------------------------------

export interface Greeting {
  protocolVersion: number;
  serverVersion: string;
  connectionId: number;
  /** The 20-byte scramble (auth-plugin-data, without the trailing NUL). */
  scramble: Buffer;
  capabilities: number;
  /** MariaDB's extended capabilities (0 for MySQL). */
  mariadbCapabilities: number;
  charset: number;
  status: number;
  authPlugin: string;
}

export function encodeGreeting(g: Omit<Greeting, "protocolVersion">): Buffer {
  if (g.scramble.length !== 20) throw new Error("scramble must be 20 bytes");
  const reserved = Buffer.alloc(10);
  reserved.writeUInt32LE(g.mariadbCapabilities >>> 0, 6);
  return Buffer.concat([
    Buffer.from([10]),
    cstr(g.serverVersion),
    u32(g.connectionId),
    g.scramble.subarray(0, 8),
    Buffer.alloc(1),
    u16(g.capabilities & 0xffff),
    Buffer.from([g.charset]),
    u16(g.status),
    u16(g.capabilities >>> 16),
    Buffer.from([21]),
    reserved,
    g.scramble.subarray(8),
    Buffer.alloc(1),
    cstr(g.authPlugin),
  ]);
}

export function decodeGreeting(payload: Buffer): Greeting {
  const r = new Reader(payload, "server handshake");
  const protocolVersion = r.u8();
  if (protocolVersion !== 10) throw unsupported(`server handshake protocol ${protocolVersion} is not supported`);
  const serverVersion = r.cstring();
  const connectionId = r.u32();
  const part1 = r.bytes(8);
  r.skip(1);
  let capabilities = r.u16();
  if (r.remaining === 0) {
    return {
      protocolVersion,
      serverVersion,
      connectionId,
      scramble: part1,
      capabilities,
      mariadbCapabilities: 0,
      charset: 0,
      status: 0,
      authPlugin: NATIVE_PASSWORD,
    };
  }
  const charset = r.u8();
  const status = r.u16();
  capabilities = (capabilities | (r.u16() << 16)) >>> 0;
  const dataLen = r.u8();
  const reserved = r.bytes(10);
  const mariadbCapabilities = capabilities & CAP.LONG_PASSWORD ? 0 : reserved.readUInt32LE(6);
  let scramble = part1;
  if (capabilities & CAP.SECURE_CONNECTION) {
    const part2 = r.bytes(Math.max(13, dataLen - 8));
    // The second part ends with a NUL that is not part of the scramble.
    scramble = Buffer.concat([part1, part2.at(-1) === 0 ? part2.subarray(0, -1) : part2]);
  }
  const authPlugin = capabilities & CAP.PLUGIN_AUTH && r.remaining > 0 ? r.cstringOrRest() : NATIVE_PASSWORD;
  return {
    protocolVersion,
    serverVersion,
    connectionId,
    scramble,
    capabilities,
    mariadbCapabilities,
    charset,
    status,
    authPlugin,
  };
}

// ---- HandshakeResponse41 / SSLRequest -----------------------------------

export interface HandshakeResponse {
  capabilities: number;
  mariadbCapabilities: number;
  maxPacketSize: number;
  charset: number;
  user: string;
  authResponse: Buffer;
  database: string;
  authPlugin: string;
  attributes: Map<string, string>;
}

export type ClientLogin = { kind: "ssl-request"; capabilities: number } | { kind: "response"; response: HandshakeResponse };

/** Decodes the client's answer to our handshake: an SSLRequest or a HandshakeResponse41. */
export function decodeClientLogin(payload: Buffer): ClientLogin {
  const r = new Reader(payload, "client handshake response");
  if (payload.length < 4) throw malformed("client handshake response: packet too short");
  const capabilities = r.u32();
  if (!(capabilities & CAP.PROTOCOL_41)) throw unsupported("clients older than protocol 4.1 are not supported");
  const maxPacketSize = r.u32();
  const charset = r.u8();
  const filler = r.bytes(23);
  const mariadbCapabilities = capabilities & CAP.LONG_PASSWORD ? 0 : filler.readUInt32LE(19);
  if (capabilities & CAP.SSL && r.remaining === 0) return { kind: "ssl-request", capabilities };
  const user = r.cstring();
  let authResponse: Buffer;
  if (capabilities & CAP.PLUGIN_AUTH_LENENC_CLIENT_DATA) authResponse = r.lenencBytes();
  else if (capabilities & CAP.SECURE_CONNECTION) authResponse = r.bytes(r.u8());
  else authResponse = r.cstringBytes();
  const database = capabilities & CAP.CONNECT_WITH_DB && r.remaining > 0 ? r.cstringOrRest() : "";
  const authPlugin = capabilities & CAP.PLUGIN_AUTH && r.remaining > 0 ? r.cstringOrRest() : "";
  const attributes = new Map<string, string>();
  if (capabilities & CAP.CONNECT_ATTRS && r.remaining > 0) {
    const a = new Reader(r.lenencBytes(), "client connection attributes");
    while (a.remaining > 0) attributes.set(a.lenencBytes().toString("utf8"), a.lenencBytes().toString("utf8"));
  }
  return {
    kind: "response",
    response: {
      capabilities,
      mariadbCapabilities,
      maxPacketSize,
      charset,
      user,
      authResponse,
      database,
      authPlugin,
      attributes,
    },
  };
}

export function encodeHandshakeResponse(h: HandshakeResponse): Buffer {
  const caps = h.capabilities >>> 0;
  const filler = Buffer.alloc(23);
  if (!(caps & CAP.LONG_PASSWORD)) filler.writeUInt32LE(h.mariadbCapabilities >>> 0, 19);
  const parts = [u32(caps), u32(h.maxPacketSize), Buffer.from([h.charset]), filler, cstr(h.user)];
  if (caps & CAP.PLUGIN_AUTH_LENENC_CLIENT_DATA) parts.push(lenencBytes(h.authResponse));
  else parts.push(Buffer.from([h.authResponse.length]), h.authResponse);
  if (caps & CAP.CONNECT_WITH_DB) parts.push(cstr(h.database));
  if (caps & CAP.PLUGIN_AUTH) parts.push(cstr(h.authPlugin));
  if (caps & CAP.CONNECT_ATTRS) {
    const attrs = [...h.attributes].flatMap(([k, v]) => [lenencBytes(Buffer.from(k)), lenencBytes(Buffer.from(v))]);
    parts.push(lenencBytes(Buffer.concat(attrs)));
  }
  return Buffer.concat(parts);
}

export function encodeSslRequest(capabilities: number, maxPacketSize: number, charset: number): Buffer {
  return Buffer.concat([u32(capabilities | CAP.SSL), u32(maxPacketSize), Buffer.from([charset]), Buffer.alloc(23)]);
}

// ---- OK / ERR / EOF / auth switch ---------------------------------------

export function encodeOk(o: { affectedRows?: number; lastInsertId?: number; status?: number; warnings?: number; info?: string } = {}): Buffer {
  const parts = [Buffer.from([0]), lenencInt(o.affectedRows ?? 0), lenencInt(o.lastInsertId ?? 0), u16(o.status ?? STATUS.AUTOCOMMIT), u16(o.warnings ?? 0)];
  if (o.info) parts.push(Buffer.from(o.info, "utf8"));
  return Buffer.concat(parts);
}

export function encodeErr(errno: number, sqlState: string, message: string): Buffer {
  const state = Buffer.from(sqlState.padEnd(5, "0").slice(0, 5), "latin1");
  return Buffer.concat([Buffer.from([0xff]), u16(errno), Buffer.from("#"), state, Buffer.from(message, "utf8")]);
}

export interface ErrPacket {
  errno: number;
  sqlState: string;
  message: string;
}

export function decodeErr(payload: Buffer): ErrPacket {
  const r = new Reader(payload, "error packet");
  if (r.u8() !== 0xff) throw malformed("error packet: bad header");
  const errno = r.u16();
  let sqlState = "HY000";
  if (r.remaining >= 6 && payload[r.pos] === 0x23) {
    r.skip(1);
    sqlState = r.bytes(5).toString("latin1");
  }
  return { errno, sqlState, message: r.rest().toString("utf8") };
}

/** Status flags of an OK packet (header 0x00 or 0xFE), or of a short EOF packet. */
export function okOrEofStatus(payload: Buffer): number {
  const r = new Reader(payload, "OK packet");
  r.u8();
  if (payload[0] === 0xfe && payload.length < 9) {
    r.u16();
    return r.u16();
  }
  r.lenenc();
  r.lenenc();
  return r.u16();
}

export function encodeAuthSwitch(plugin: string, data: Buffer): Buffer {
  return Buffer.concat([Buffer.from([0xfe]), cstr(plugin), data]);
}

export function decodeAuthSwitch(payload: Buffer): {
  plugin: string;
  data: Buffer;
} {
  const r = new Reader(payload, "auth switch request");
  if (r.u8() !== 0xfe) throw malformed("auth switch request: bad header");
  if (r.remaining === 0) return { plugin: "mysql_old_password", data: Buffer.alloc(0) };
  const plugin = r.cstring();
  return { plugin, data: r.rest() };
}
