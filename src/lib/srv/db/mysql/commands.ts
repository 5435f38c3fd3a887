/**
 * Command packets (client → server) and the one server answer the audit
 * needs (COM_STMT_PREPARE_OK), pure. COM_STMT_EXECUTE parameters are decoded
 * to strings for the audit log: integers, floats, decimals, strings, blobs
 * (hex when not UTF-8), dates, times and datetimes.
 */
import { malformed } from "./errors.ts";
import { Reader } from "./wire.ts";

export const COM = {
  SLEEP: 0x00,
  QUIT: 0x01,
  INIT_DB: 0x02,
  QUERY: 0x03,
  FIELD_LIST: 0x04,
  CREATE_DB: 0x05,
  DROP_DB: 0x06,
  REFRESH: 0x07,
  SHUTDOWN: 0x08,
  STATISTICS: 0x09,
  PROCESS_INFO: 0x0a,
  CONNECT: 0x0b,
  PROCESS_KILL: 0x0c,
  DEBUG: 0x0d,
  PING: 0x0e,
  TIME: 0x0f,
  DELAYED_INSERT: 0x10,
  CHANGE_USER: 0x11,
  BINLOG_DUMP: 0x12,
  TABLE_DUMP: 0x13,
  CONNECT_OUT: 0x14,
  REGISTER_SLAVE: 0x15,
  STMT_PREPARE: 0x16,
  STMT_EXECUTE: 0x17,
  STMT_SEND_LONG_DATA: 0x18,
  STMT_CLOSE: 0x19,
  STMT_RESET: 0x1a,
  SET_OPTION: 0x1b,
  STMT_FETCH: 0x1c,
  DAEMON: 0x1d,
  BINLOG_DUMP_GTID: 0x1e,
  RESET_CONNECTION: 0x1f,
  /** MariaDB. */
  STMT_BULK_EXECUTE: 0xfa,
  /** MariaDB. */
  MULTI: 0xfe,
} as const;

/** MariaDB: a COM_STMT_EXECUTE for "the statement prepared last" (pipelined prepare + execute). */
export const LAST_STATEMENT_ID = 0xffffffff;

/** The text of COM_QUERY, COM_STMT_PREPARE, COM_INIT_DB, COM_CREATE_DB, COM_DROP_DB. */
export function commandText(payload: Buffer): string {
  if (payload.length < 1) throw malformed("empty command packet");
  return payload.toString("utf8", 1);
}

/** COM_STMT_CLOSE, COM_STMT_RESET, COM_STMT_FETCH: the statement id. */
export function statementId(payload: Buffer): number {
  const r = new Reader(payload, "statement command");
  r.u8();
  return r.u32();
}

/** COM_STMT_SEND_LONG_DATA: statement id and parameter index. */
export function decodeLongData(payload: Buffer): {
  statementId: number;
  param: number;
} {
  const r = new Reader(payload, "COM_STMT_SEND_LONG_DATA");
  r.u8();
  return { statementId: r.u32(), param: r.u16() };
}

export interface PrepareOk {
  statementId: number;
  columns: number;
  params: number;
}

/** The first packet of a successful COM_STMT_PREPARE response. */
export function decodePrepareOk(payload: Buffer): PrepareOk {
  const r = new Reader(payload, "COM_STMT_PREPARE_OK");
  if (r.u8() !== 0x00) throw malformed("COM_STMT_PREPARE_OK: bad header");
  const statementId = r.u32();
  const columns = r.u16();
  const params = r.u16();
  return { statementId, columns, params };
}

/** Column and parameter types of the binary protocol. */
export const TYPE = {
  DECIMAL: 0x00,
  TINY: 0x01,
  SHORT: 0x02,
  LONG: 0x03,
  FLOAT: 0x04,
  DOUBLE: 0x05,
  NULL: 0x06,
  TIMESTAMP: 0x07,
  LONGLONG: 0x08,
  INT24: 0x09,
  DATE: 0x0a,
  TIME: 0x0b,
  DATETIME: 0x0c,
  YEAR: 0x0d,
  NEWDATE: 0x0e,
  VARCHAR: 0x0f,
  BIT: 0x10,
  JSON: 0xf5,
  NEWDECIMAL: 0xf6,
  ENUM: 0xf7,
  SET: 0xf8,
  TINY_BLOB: 0xf9,
  MEDIUM_BLOB: 0xfa,
  LONG_BLOB: 0xfb,
  BLOB: 0xfc,
  VAR_STRING: 0xfd,
  STRING: 0xfe,
  GEOMETRY: 0xff,
} as const;

/** A parameter type as sent in COM_STMT_EXECUTE: the type byte and the unsigned flag (0x80 in the second byte). */
export interface ParamType {
  type: number;
  unsigned: boolean;
}

export interface StmtExecute {
  statementId: number;
  flags: number;
  /** Parameter values as text; null for SQL NULL; undefined when sent as long data. */
  params: (string | null | undefined)[];
  /** The types the packet bound, when it bound new ones. */
  types: ParamType[] | undefined;
}

/**
 * Decodes COM_STMT_EXECUTE for a statement with `paramCount` parameters.
 * `previousTypes` are the types bound by an earlier execute (used when this
 * one does not bind new ones); `longData` are the parameters whose values
 * were sent with COM_STMT_SEND_LONG_DATA and are absent here.
 */
export function decodeStmtExecute(
  payload: Buffer,
  paramCount: number,
  previousTypes: ParamType[] | undefined,
  longData: ReadonlySet<number> = new Set(),
): StmtExecute {
  const r = new Reader(payload, "COM_STMT_EXECUTE");
  if (r.u8() !== COM.STMT_EXECUTE) throw malformed("COM_STMT_EXECUTE: bad header");
  const statementId = r.u32();
  const flags = r.u8();
  r.u32(); // iteration count, always 1
  if (paramCount === 0 || r.remaining === 0) return { statementId, flags, params: [], types: undefined };
  const nullBitmap = r.bytes(Math.floor((paramCount + 7) / 8));
  const newBound = r.u8();
  let types: ParamType[] | undefined;
  if (newBound === 1) {
    types = [];
    for (let i = 0; i < paramCount; i++) {
      const type = r.u8();
      types.push({ type, unsigned: (r.u8() & 0x80) !== 0 });
    }
  } else if (newBound !== 0) {
    throw malformed("COM_STMT_EXECUTE: bad new-params-bound flag");
  }
  const bound = types ?? previousTypes;
  const params: (string | null | undefined)[] = [];
  for (let i = 0; i < paramCount; i++) {
    if (((nullBitmap[i >> 3] ?? 0) >> (i & 7)) & 1) params.push(null);
    else if (longData.has(i)) params.push(undefined);
    else {
      const t = bound?.[i];
      if (t === undefined) throw malformed("COM_STMT_EXECUTE: parameter types were never bound");
      params.push(decodeBinaryValue(r, t));
    }
  }
  return { statementId, flags, params, types };
}

const pad = (n: number, w = 2) => String(n).padStart(w, "0");

/** Bytes as text for the audit log: UTF-8 when they are valid UTF-8, else 0x-prefixed hex. */
export function auditText(b: Buffer): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(b);
  } catch {
    return `0x${b.toString("hex")}`;
  }
}

export function decodeBinaryValue(r: Reader, t: ParamType): string | null {
  switch (t.type) {
    case TYPE.NULL:
      return null;
    case TYPE.TINY:
      return String(t.unsigned ? r.u8() : (r.u8() << 24) >> 24);
    case TYPE.SHORT:
    case TYPE.YEAR:
      return String(t.unsigned ? r.u16() : (r.u16() << 16) >> 16);
    case TYPE.LONG:
    case TYPE.INT24:
      return String(t.unsigned ? r.u32() : r.u32() | 0);
    case TYPE.LONGLONG: {
      const v = r.u64();
      return String(t.unsigned ? v : BigInt.asIntN(64, v));
    }
    case TYPE.FLOAT:
      return String(r.bytes(4).readFloatLE(0));
    case TYPE.DOUBLE:
      return String(r.bytes(8).readDoubleLE(0));
    case TYPE.DATE:
    case TYPE.NEWDATE:
    case TYPE.DATETIME:
    case TYPE.TIMESTAMP:
      return dateTime(r, t.type === TYPE.DATE || t.type === TYPE.NEWDATE);
    case TYPE.TIME:
      return time(r);
    default:
      // Decimals, strings, blobs, JSON, enums, sets, bits and geometry: a length-encoded string.
      return auditText(r.lenencBytes());
  }
}

function dateTime(r: Reader, dateOnly: boolean): string {
  const len = r.u8();
  if (![0, 4, 7, 11].includes(len)) throw malformed("COM_STMT_EXECUTE: bad date length");
  const b = new Reader(r.bytes(len), "date");
  const [y, mo, d] = len >= 4 ? [b.u16(), b.u8(), b.u8()] : [0, 0, 0];
  const [h, mi, s] = len >= 7 ? [b.u8(), b.u8(), b.u8()] : [0, 0, 0];
  const us = len === 11 ? b.u32() : 0;
  const date = `${pad(y, 4)}-${pad(mo)}-${pad(d)}`;
  if (dateOnly) return date;
  return `${date} ${pad(h)}:${pad(mi)}:${pad(s)}${us ? `.${pad(us, 6)}` : ""}`;
}

function time(r: Reader): string {
  const len = r.u8();
  if (![0, 8, 12].includes(len)) throw malformed("COM_STMT_EXECUTE: bad time length");
  if (len === 0) return "00:00:00";
  const b = new Reader(r.bytes(len), "time");
  const negative = b.u8() === 1;
  const days = b.u32();
  const h = b.u8() + days * 24;
  const mi = b.u8();
  const s = b.u8();
  const us = len === 12 ? b.u32() : 0;
  return `${negative ? "-" : ""}${pad(h)}:${pad(mi)}:${pad(s)}${us ? `.${pad(us, 6)}` : ""}`;
}
