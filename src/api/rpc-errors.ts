import { Code, ConnectError } from "@connectrpc/connect";
import { type ErrorKind, JumpgateError, toJumpgateError } from "./errors.ts";

const toCode: Record<ErrorKind, Code> = {
  "access-denied": Code.PermissionDenied,
  "not-found": Code.NotFound,
  "already-exists": Code.AlreadyExists,
  "bad-parameter": Code.InvalidArgument,
  "connection-problem": Code.Unavailable,
  "limit-exceeded": Code.ResourceExhausted,
  "compare-failed": Code.Aborted,
  internal: Code.Internal,
};

/** Server edge: a JumpgateError becomes a gRPC status carrying only the user-facing message. */
export function toConnectError(e: unknown): ConnectError {
  if (e instanceof ConnectError) return e;
  const j = toJumpgateError(e);
  return new ConnectError(j.message, toCode[j.kind]);
}

/** Client edge: the status comes back as the JumpgateError it was. */
export function fromConnectError(e: unknown): JumpgateError {
  if (e instanceof JumpgateError) return e;
  if (!(e instanceof ConnectError)) return toJumpgateError(e);
  const kind = (Object.entries(toCode).find(([, c]) => c === e.code)?.[0] ?? "connection-problem") as ErrorKind;
  if (e.code === Code.Unauthenticated) return new JumpgateError("access-denied", e.rawMessage);
  if (e.code === Code.Unknown || e.code === Code.Unavailable || e.code === Code.DeadlineExceeded) {
    return new JumpgateError("connection-problem", `cannot reach the Auth Service: ${e.rawMessage}`);
  }
  return new JumpgateError(kind, e.rawMessage);
}
