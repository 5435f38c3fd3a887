/**
 * Why an upstream could not be reached or answered, as one typed error with a
 * stable code, a one-line message for people and the HTTP status it becomes.
 */
import { JumpgateError } from "../../api/errors.ts";

export type UpstreamErrorCode =
  /** The dial failed (refused, unreachable, no tunnel). */
  | "connect-failed"
  /** The connection (TCP, tunnel or TLS handshake) was not up in time. */
  | "connect-timeout"
  /** The TLS handshake failed (certificate not trusted, wrong name, …). */
  | "tls-failed"
  /** The request went out, the response headers did not come in time. */
  | "headers-timeout"
  /** The upstream closed or broke the connection, or answered something that is not HTTP. */
  | "upstream-reset";

const STATUS: Record<UpstreamErrorCode, number> = {
  "connect-failed": 502,
  "connect-timeout": 504,
  "tls-failed": 502,
  "headers-timeout": 504,
  "upstream-reset": 502,
};

export class UpstreamError extends JumpgateError {
  readonly code: UpstreamErrorCode;
  /** 502 Bad Gateway, or 504 Gateway Timeout for the two timeouts. */
  readonly status: number;

  constructor(code: UpstreamErrorCode, message: string, cause?: unknown) {
    super("connection-problem", message, cause === undefined ? undefined : { cause, detail: String(cause) });
    this.name = "UpstreamError";
    this.code = code;
    this.status = STATUS[code];
  }
}

export function isUpstreamError(e: unknown): e is UpstreamError {
  return e instanceof UpstreamError;
}

/** Short words for the system errors a dial gives, for the one-line message. */
function reason(e: unknown): string {
  const code = (e as { code?: unknown } | null)?.code;
  switch (code) {
    case "ECONNREFUSED":
      return "connection refused";
    case "ECONNRESET":
    case "EPIPE":
      return "connection reset";
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return "host unreachable";
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return "name not resolved";
    default: {
      const m = e instanceof Error ? e.message : String(e);
      return m.split("\n")[0]?.slice(0, 200) ?? "unknown error";
    }
  }
}

/** Classifies an error thrown while connecting or exchanging with `target`. */
export function toUpstreamError(e: unknown, target: string, phase: "connect" | "exchange"): UpstreamError {
  if (e instanceof UpstreamError) return e;
  const code = String((e as { code?: unknown } | null)?.code ?? "");
  if (code.startsWith("ERR_TLS") || code.includes("CERT") || code === "DEPTH_ZERO_SELF_SIGNED_CERT" || code === "SELF_SIGNED_CERT_IN_CHAIN") {
    return new UpstreamError("tls-failed", `TLS to upstream ${target} failed: ${reason(e)}`, e);
  }
  if (phase === "connect") return new UpstreamError("connect-failed", `upstream ${target} is not reachable: ${reason(e)}`, e);
  return new UpstreamError("upstream-reset", `upstream ${target} closed the connection: ${reason(e)}`, e);
}
