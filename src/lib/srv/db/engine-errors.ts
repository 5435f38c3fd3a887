/** What both protocol engines say about failures, whatever the wire format. */
import { isJumpgateError } from "../../../api/errors.ts";

/** The line shown to the client for anything thrown: a JumpgateError's message, else a generic one. */
export function reasonOf(e: unknown): string {
  if (isJumpgateError(e) && e.kind !== "internal") return e.message;
  return "internal error in the database service";
}

/** The internal detail of what caused an upstream failure (never shown to the client). */
export function causeDetail(cause: unknown): string | undefined {
  if (cause instanceof Error) return cause.message;
  return cause === undefined ? undefined : String(cause);
}
