import type { IncomingMessage, ServerResponse } from "node:http";
import { badParameter, httpStatus, type JumpgateError, limitExceeded, toJumpgateError } from "../../../api/errors.ts";

export const MAX_BODY_BYTES = 64 * 1024;

/** Reads a JSON object body with a size cap; anything else is a clear 400. */
export async function readJson(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Record<string, unknown>> {
  const type = req.headers["content-type"] ?? "";
  if (!type.startsWith("application/json")) throw badParameter("send the request body as application/json");
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw limitExceeded(`request body is larger than ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  let body: unknown;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    throw badParameter("request body is not valid JSON");
  }
  if (body === null || typeof body !== "object" || Array.isArray(body)) throw badParameter("request body must be a JSON object");
  return body as Record<string, unknown>;
}

export function str(body: Record<string, unknown>, field: string, required = true): string {
  const v = body[field];
  if (v === undefined || v === null || v === "") {
    if (required) throw badParameter(`missing field "${field}"`);
    return "";
  }
  if (typeof v !== "string") throw badParameter(`field "${field}" must be a string`);
  return v;
}

export function num(body: Record<string, unknown>, field: string): number | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0) throw badParameter(`field "${field}" must be a positive number`);
  return v;
}

const SECURITY_HEADERS: Record<string, string> = {
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "strict-transport-security": "max-age=31536000",
};

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const data = Buffer.from(JSON.stringify(body));
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    "content-type": "application/json; charset=utf-8",
    "content-length": data.length,
    "cache-control": "no-store",
  });
  res.end(data);
}

export function sendHtml(res: ServerResponse, status: number, html: string): void {
  const data = Buffer.from(html);
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    "content-type": "text/html; charset=utf-8",
    "content-length": data.length,
    "cache-control": "no-store",
    "content-security-policy":
      "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'",
  });
  res.end(data);
}

/**
 * The one place errors become HTTP: kind → status, and only the user-facing
 * message (plus `extra`, such as the line and column of a YAML problem).
 */
export function sendError(res: ServerResponse, e: unknown, extra: Record<string, number | string> = {}): JumpgateError {
  const j = toJumpgateError(e);
  if (!res.headersSent) sendJson(res, httpStatus[j.kind], { error: { kind: j.kind, message: j.message, ...extra } });
  else res.destroy();
  return j;
}
