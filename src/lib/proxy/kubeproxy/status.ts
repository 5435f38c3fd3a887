/**
 * What the proxy answers kubectl when it refuses a connection (pure, no
 * sockets): a minimal HTTP/1.1 response carrying a Kubernetes `Status`, which
 * kubectl turns into `error: You must be logged in to the server (MESSAGE)`
 * (401) or `Error from server (Forbidden): MESSAGE` (403, 503 alike), plus a
 * `Warning` header kubectl prints where it does not read the Status. And the
 * request line of what kubectl asked, for the audit event.
 */
import { STATUS_CODES } from "node:http";

export type KubeRefusalCode = 401 | 403 | 503;

const REASONS: Record<KubeRefusalCode, string> = {
  401: "Unauthorized",
  403: "Forbidden",
  503: "ServiceUnavailable",
};

/** The `reason` of a Status for `code`. */
export function statusReason(code: KubeRefusalCode): string {
  return REASONS[code];
}

/** A Kubernetes `Status` object (meta/v1) for a failure. */
export function kubeStatus(code: KubeRefusalCode, message: string) {
  return { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason: REASONS[code], code };
}

/**
 * The message as an HTTP `Warning` header value (`299 - "…"`), printable
 * ASCII only. kubectl prints warnings (`Warning: …`) for every response, also
 * where it shows a fixed text instead of the Status (API discovery: "the
 * server has asked for the client to provide credentials").
 */
export function warningValue(message: string): string {
  const text = message.replace(/[^\x20-\x7e]/g, "?").replace(/[\\"]/g, (c) => `\\${c}`);
  return `299 - "${text.slice(0, 1024)}"`;
}

/** The whole HTTP/1.1 response; the connection closes after it. */
export function kubeStatusResponse(code: KubeRefusalCode, message: string): Buffer {
  const body = Buffer.from(JSON.stringify(kubeStatus(code, message)), "utf8");
  const head = [
    `HTTP/1.1 ${code} ${STATUS_CODES[code] ?? ""}`,
    "Content-Type: application/json",
    `Warning: ${warningValue(message)}`,
    `Content-Length: ${body.length}`,
    "Cache-Control: no-store",
    "Connection: close",
    "",
    "",
  ].join("\r\n");
  return Buffer.concat([Buffer.from(head, "latin1"), body]);
}

/** The longest request head read before answering a refused connection. */
export const MAX_REFUSED_HEAD_BYTES = 16 * 1024;

export type HeadScan = { kind: "need-more" } | { kind: "done"; request?: { verb: string; path: string } };

/**
 * Whether `buf` (the first bytes kubectl sent) holds a whole request head, or
 * enough to stop waiting; with its request line when it is one (method and
 * path, without the query).
 */
export function scanRequestHead(buf: Buffer): HeadScan {
  const end = buf.indexOf("\r\n\r\n");
  if (end < 0 && buf.length < MAX_REFUSED_HEAD_BYTES) return { kind: "need-more" };
  const lineEnd = buf.indexOf("\r\n");
  const line = buf.subarray(0, lineEnd < 0 ? Math.min(buf.length, 8192) : lineEnd).toString("latin1");
  const m = /^([A-Z]{1,16}) (\/[^ ?#]{0,4096})(?:[?#][^ ]*)? HTTP\/1\.[01]$/.exec(line);
  return m?.[1] && m[2] ? { kind: "done", request: { verb: m[1], path: m[2] } } : { kind: "done" };
}
