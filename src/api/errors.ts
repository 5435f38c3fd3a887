/**
 * The one error type that crosses module boundaries. `message` is safe to show
 * to a user; `detail` is internal and never leaves the process.
 */
export type ErrorKind =
  | "unauthenticated"
  | "access-denied"
  | "not-found"
  | "already-exists"
  | "bad-parameter"
  | "connection-problem"
  | "limit-exceeded"
  | "compare-failed"
  | "internal";

export class JumpgateError extends Error {
  readonly kind: ErrorKind;
  readonly detail: string | undefined;

  constructor(kind: ErrorKind, message: string, options?: { detail?: string; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "JumpgateError";
    this.kind = kind;
    this.detail = options?.detail;
  }
}

export const accessDenied = (message: string, detail?: string) => new JumpgateError("access-denied", message, detail === undefined ? undefined : { detail });
/** No session, or one that expired or was revoked: the caller must sign in again. */
export const unauthenticated = (message: string) => new JumpgateError("unauthenticated", message);
export const notFound = (message: string) => new JumpgateError("not-found", message);
export const alreadyExists = (message: string) => new JumpgateError("already-exists", message);
export const badParameter = (message: string) => new JumpgateError("bad-parameter", message);
export const connectionProblem = (message: string, cause?: unknown) => new JumpgateError("connection-problem", message, { cause });
export const limitExceeded = (message: string) => new JumpgateError("limit-exceeded", message);
export const compareFailed = (message: string) => new JumpgateError("compare-failed", message);

export function isJumpgateError(e: unknown, kind?: ErrorKind): e is JumpgateError {
  return e instanceof JumpgateError && (kind === undefined || e.kind === kind);
}

/** HTTP status for each kind, used once at the web edge. */
export const httpStatus: Record<ErrorKind, number> = {
  unauthenticated: 401,
  "access-denied": 403,
  "not-found": 404,
  "already-exists": 409,
  "bad-parameter": 400,
  "connection-problem": 502,
  "limit-exceeded": 429,
  "compare-failed": 409,
  internal: 500,
};

/** Turns anything thrown into a JumpgateError without leaking internals into the message. */
export function toJumpgateError(e: unknown): JumpgateError {
  if (e instanceof JumpgateError) return e;
  const detail = e instanceof Error ? (e.stack ?? e.message) : String(e);
  return new JumpgateError("internal", "internal error", { detail, cause: e });
}
