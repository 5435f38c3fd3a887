/**
 * How the Kubernetes Service says no: a Kubernetes `Status` object (what
 * kubectl prints as `Error from server (Forbidden): …`), written to an HTTP
 * response or, for an upgrade request, straight to the socket.
 */
import type { ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { JumpgateError } from "../../../api/errors.ts";

/** The reasons Jumpgate answers with; the names are Kubernetes' `metav1.StatusReason` values. */
export type KubeStatusReason = "Forbidden" | "BadRequest" | "NotFound" | "ServiceUnavailable" | "InternalError";

export interface KubeStatus {
  kind: "Status";
  apiVersion: "v1";
  metadata: Record<string, never>;
  status: "Failure";
  message: string;
  reason: KubeStatusReason;
  code: number;
}

const CODES: Record<KubeStatusReason, number> = {
  Forbidden: 403,
  BadRequest: 400,
  NotFound: 404,
  ServiceUnavailable: 503,
  InternalError: 500,
};

const TEXT: Record<number, string> = { 400: "Bad Request", 403: "Forbidden", 404: "Not Found", 500: "Internal Server Error", 503: "Service Unavailable" };

/** One line, no control characters: kubectl prints it as it is. */
function oneLine(message: string): string {
  return message
    .replace(/[\r\n\t\p{Cc}]+/gu, " ")
    .trim()
    .slice(0, 1000);
}

export function kubeStatus(reason: KubeStatusReason, message: string): KubeStatus {
  return { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message: oneLine(message), reason, code: CODES[reason] };
}

/** A refusal of the Kubernetes Service: the Status the client gets, and the message for the audit log. */
export class KubeAccessError extends JumpgateError {
  readonly status: KubeStatus;

  constructor(reason: KubeStatusReason, message: string) {
    super(
      reason === "Forbidden" ? "access-denied" : reason === "BadRequest" ? "bad-parameter" : reason === "NotFound" ? "not-found" : "connection-problem",
      oneLine(message),
    );
    this.name = "KubeAccessError";
    this.status = kubeStatus(reason, message);
  }
}

export const kubeForbidden = (message: string) => new KubeAccessError("Forbidden", message);
export const kubeBadRequest = (message: string) => new KubeAccessError("BadRequest", message);

function body(s: KubeStatus): string {
  return `${JSON.stringify(s)}\n`;
}

/** Answers an HTTP request with the Status. */
export function sendKubeStatus(res: ServerResponse, s: KubeStatus): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const b = body(s);
  res.writeHead(s.code, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(b),
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
  });
  res.end(b);
}

/** Answers an upgrade request (the socket has no ServerResponse) with the Status, then closes. */
export function writeKubeStatus(socket: Duplex, s: KubeStatus): void {
  const b = body(s);
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  socket.end(
    `HTTP/1.1 ${s.code} ${TEXT[s.code] ?? "Error"}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(b)}\r\ncache-control: no-store\r\nconnection: close\r\n\r\n${b}`,
  );
}
