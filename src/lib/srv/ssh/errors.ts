/**
 * How the SSH service words refusals and failures for people: a refusal is
 * one line, sent as an SSH banner (OpenSSH prints it) and put in the audit
 * event; internals stay in the log.
 */
import type { AuthenticationType } from "ssh2";
import { isJumpgateError, JumpgateError } from "../../../api/errors.ts";

/** The methods offered after a failed attempt. keyboard-interactive is only a last hook to explain a refusal. */
export const AUTH_METHODS: AuthenticationType[] = ["publickey", "keyboard-interactive"];

/** The banner line for a refusal: `jumpgate: access denied: <reason>`. */
export function refusalBanner(reason: string): string {
  return `jumpgate: access denied: ${reason}`;
}

/** What a refusal says when no certificate was offered at all. */
export const NO_CERTIFICATE = "a Jumpgate user certificate is required (log in with `jsh login`; plain keys and passwords are not accepted)";

/** A reason for people from anything thrown: a JumpgateError's message, else a generic line. */
export function reasonOf(e: unknown): string {
  if (isJumpgateError(e) && e.kind !== "internal") return e.message;
  return "internal error while checking access";
}

/** The message for a session that could not be started. */
export function sessionFailure(what: string, e: unknown): JumpgateError {
  const detail = e instanceof Error ? e.message : String(e);
  return new JumpgateError("connection-problem", `cannot start ${what}`, { detail });
}

/** The host part of "ip", "ip:port" or "[v6]:port". */
export function hostOfAddr(addr: string): string {
  const v6 = /^\[([^\]]+)\](?::\d+)?$/.exec(addr);
  if (v6?.[1]) return v6[1];
  const v4 = /^([^:]+):\d+$/.exec(addr);
  if (v4?.[1]) return v4[1];
  return addr;
}
