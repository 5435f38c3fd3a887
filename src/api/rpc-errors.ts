import { Code, ConnectError } from "@connectrpc/connect";
import { type ErrorKind, JumpgateError, toJumpgateError } from "./errors.ts";

const toCode: Record<ErrorKind, Code> = {
  unauthenticated: Code.Unauthenticated,
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
  // Failures below gRPC (TCP, TLS, HTTP/2) never reached a handler; the client wraps them with a cause.
  if (!(e instanceof ConnectError)) return transportError(e);
  if (e.cause instanceof Error && !(e.cause instanceof ConnectError)) return transportError(e.cause);
  const kind = (Object.entries(toCode).find(([, c]) => c === e.code)?.[0] ?? "connection-problem") as ErrorKind;
  if (e.code === Code.Unknown || e.code === Code.Unavailable || e.code === Code.DeadlineExceeded) {
    return new JumpgateError("connection-problem", `cannot reach the Auth Service: ${e.rawMessage}`);
  }
  return new JumpgateError(kind, e.rawMessage);
}

function transportError(e: unknown): JumpgateError {
  const raw = e instanceof Error ? e.message : String(e);
  // OpenSSL's messages carry a hex prefix and a source path nobody needs.
  const msg = raw.replace(/^[0-9A-F]+:error:[0-9A-F]+:[^:]*:[^:]*:/, "").replace(/:\.\.\/deps\S*$/, "");
  return new JumpgateError("connection-problem", `cannot reach the Auth Service: ${msg}`);
}
