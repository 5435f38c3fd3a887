/**
 * What the app host answers when it does not forward: a one-line HTML page or
 * a redirect, written to a response, or raw to the socket of an upgrade
 * request (a WebSocket that cannot be let through).
 */
import { type ServerResponse, STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";
import { errorPage, sendErrorPage } from "../../httpfwd/index.ts";

export type Answer =
  | { kind: "page"; status: number; title: string; message: string; link?: { href: string; text: string }; setCookie?: string }
  | { kind: "redirect"; status: 302 | 303; location: string; setCookie?: string };

export const page = (status: number, title: string, message: string, extra: { link?: { href: string; text: string }; setCookie?: string } = {}): Answer => ({
  kind: "page",
  status,
  title,
  message,
  ...extra,
});

export const redirect = (status: 302 | 303, location: string, setCookie?: string): Answer => ({
  kind: "redirect",
  status,
  location,
  ...(setCookie === undefined ? {} : { setCookie }),
});

export function sendAnswer(res: ServerResponse, a: Answer): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (a.setCookie !== undefined) res.setHeader("set-cookie", a.setCookie);
  if (a.kind === "page") {
    sendErrorPage(res, a.status, a.title, a.message, a.link);
    return;
  }
  res.writeHead(a.status, { location: a.location, "cache-control": "no-store", "content-length": 0 });
  res.end();
}

/** The same answer as raw HTTP/1.1 on an upgrade request's socket, then the socket closes. */
export function writeAnswer(socket: Duplex, a: Answer): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const head = [`HTTP/1.1 ${a.status} ${STATUS_CODES[a.status] ?? ""}`, "cache-control: no-store", "connection: close"];
  if (a.setCookie !== undefined) head.push(`set-cookie: ${a.setCookie}`);
  let body = "";
  if (a.kind === "page") {
    body = errorPage(a.status, a.title, a.message, a.link);
    head.push("content-type: text/html; charset=utf-8");
  } else head.push(`location: ${a.location}`);
  head.push(`content-length: ${Buffer.byteLength(body)}`);
  socket.end(`${head.join("\r\n")}\r\n\r\n${body}`);
}
