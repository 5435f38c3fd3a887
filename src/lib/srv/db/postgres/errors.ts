/**
 * Errors of the PostgreSQL engine. Each carries the SQLSTATE the client is
 * sent in an ErrorResponse, so every failure reaches psql as a FATAL line it
 * prints, never as a bare reset.
 */
import { type ErrorKind, isJumpgateError, JumpgateError } from "../../../../api/errors.ts";
import { causeDetail, reasonOf } from "../engine-errors.ts";

/** SQLSTATE codes the engine sends. */
export const SQLSTATE = {
  protocolViolation: "08P01",
  connectionFailure: "08006",
  cannotConnect: "08001",
  invalidAuthorization: "28000",
  featureNotSupported: "0A000",
  programLimitExceeded: "54000",
  internal: "XX000",
} as const;

/** Malformed, oversized or unexpected bytes from a peer. */
export class PgProtocolError extends JumpgateError {
  readonly sqlState: string;
  constructor(message: string, opts?: { kind?: ErrorKind; sqlState?: string; detail?: string }) {
    super(opts?.kind ?? "bad-parameter", message, opts?.detail === undefined ? undefined : { detail: opts.detail });
    this.name = "PgProtocolError";
    this.sqlState = opts?.sqlState ?? SQLSTATE.protocolViolation;
  }
}

export const malformed = (message: string) => new PgProtocolError(message);
export const tooLarge = (message: string) =>
  new PgProtocolError(message, {
    kind: "limit-exceeded",
    sqlState: SQLSTATE.programLimitExceeded,
  });
export const unsupported = (message: string) =>
  new PgProtocolError(message, {
    kind: "bad-parameter",
    sqlState: SQLSTATE.featureNotSupported,
  });

/** The fields of a server's ErrorResponse, kept to pass on to the client as they are. */
export class PgServerError extends JumpgateError {
  readonly fields: ReadonlyMap<string, string>;
  constructor(fields: ReadonlyMap<string, string>) {
    super("connection-problem", fields.get("M") ?? "the database server refused the connection");
    this.name = "PgServerError";
    this.fields = fields;
  }
}

/** A failure to reach or log in to the database server. */
export function upstreamFailure(message: string, cause?: unknown): PgProtocolError {
  const detail = causeDetail(cause);
  return new PgProtocolError(message, {
    kind: "connection-problem",
    sqlState: SQLSTATE.cannotConnect,
    ...(detail === undefined ? {} : { detail }),
  });
}

export { reasonOf };

/** The SQLSTATE for anything thrown. */
export function sqlStateOf(e: unknown): string {
  if (e instanceof PgProtocolError) return e.sqlState;
  if (isJumpgateError(e, "access-denied") || isJumpgateError(e, "unauthenticated")) return SQLSTATE.invalidAuthorization;
  if (isJumpgateError(e, "connection-problem")) return SQLSTATE.cannotConnect;
  return SQLSTATE.internal;
}
