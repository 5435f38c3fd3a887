/**
 * Errors of the MySQL engine. Each carries the error number and SQLSTATE the
 * client is sent in an ERR packet, so every failure reaches `mysql` as an
 * `ERROR <errno> (<state>): <message>` line, never as a bare reset.
 */
import { type ErrorKind, isJumpgateError, JumpgateError } from "../../../../api/errors.ts";
import { causeDetail, reasonOf } from "../engine-errors.ts";

/** Error numbers (and their SQLSTATE) the engine sends. */
export const ER = {
  /** ER_ACCESS_DENIED_ERROR: what a refused login looks like. */
  accessDenied: { errno: 1045, sqlState: "28000" },
  /** ER_DBACCESS_DENIED_ERROR: USE of a database the roles do not allow. */
  dbAccessDenied: { errno: 1044, sqlState: "42000" },
  /** ER_HANDSHAKE_ERROR: a malformed or unexpected login packet. */
  handshake: { errno: 1043, sqlState: "08S01" },
  /** ER_UNKNOWN_COM_ERROR: a command we do not pass on. */
  unknownCommand: { errno: 1047, sqlState: "08S01" },
  /** ER_NET_PACKET_TOO_LARGE. */
  packetTooLarge: { errno: 1153, sqlState: "08S01" },
  /** ER_NOT_SUPPORTED_YET. */
  notSupported: { errno: 1235, sqlState: "42000" },
  /**
   * The server could not be reached or logged in to. Not CR_CONN_HOST_ERROR
   * (2003): libmariadb reads 2003, 2006 and 2013 from a server as a malformed
   * packet, so it is ER_UNKNOWN_ERROR with "communication link failure".
   */
  cannotConnect: { errno: 1105, sqlState: "08S01" },
  /** ER_UNKNOWN_ERROR. */
  internal: { errno: 1105, sqlState: "HY000" },
} as const;

export type ErrCode = { errno: number; sqlState: string };

/** Malformed, oversized or unexpected bytes from a peer, or a refusal of ours. */
export class MysqlProtocolError extends JumpgateError {
  readonly errno: number;
  readonly sqlState: string;
  constructor(message: string, opts?: { kind?: ErrorKind; code?: ErrCode; detail?: string }) {
    super(opts?.kind ?? "bad-parameter", message, opts?.detail === undefined ? undefined : { detail: opts.detail });
    this.name = "MysqlProtocolError";
    this.errno = opts?.code?.errno ?? ER.handshake.errno;
    this.sqlState = opts?.code?.sqlState ?? ER.handshake.sqlState;
  }
}

export const malformed = (message: string) => new MysqlProtocolError(message);
export const tooLarge = (message: string) =>
  new MysqlProtocolError(message, {
    kind: "limit-exceeded",
    code: ER.packetTooLarge,
  });
export const unsupported = (message: string) => new MysqlProtocolError(message, { code: ER.notSupported });

/** An ERR packet the database server sent while we logged in; passed on to the client as it is. */
export class MysqlServerError extends JumpgateError {
  readonly errno: number;
  readonly sqlState: string;
  constructor(errno: number, sqlState: string, message: string) {
    super("connection-problem", message);
    this.name = "MysqlServerError";
    this.errno = errno;
    this.sqlState = sqlState;
  }
}

/** A failure to reach or log in to the database server. */
export function upstreamFailure(message: string, cause?: unknown): MysqlProtocolError {
  const detail = causeDetail(cause);
  return new MysqlProtocolError(message, {
    kind: "connection-problem",
    code: ER.cannotConnect,
    ...(detail === undefined ? {} : { detail }),
  });
}

export { reasonOf };

/** The error number and SQLSTATE for anything thrown. */
export function codeOf(e: unknown): ErrCode {
  if (e instanceof MysqlProtocolError || e instanceof MysqlServerError) return { errno: e.errno, sqlState: e.sqlState };
  if (isJumpgateError(e, "access-denied") || isJumpgateError(e, "unauthenticated")) return ER.accessDenied;
  if (isJumpgateError(e, "connection-problem")) return ER.cannotConnect;
  return ER.internal;
}
