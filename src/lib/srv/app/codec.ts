/**
 * Bytes ⇄ values for the Application Service: the proxy's stream header
 * (`api/appwire.ts`) read with a deadline and a size cap, and the pure bits of
 * request handling (the app-session cookie, the client's IP, the audited path).
 */
import type { Duplex } from "node:stream";
import { APP_SESSION_COOKIE, type AppConnHeader, decodeAppHeader, MAX_APP_HEADER_BYTES } from "../../../api/appwire.ts";
import { badParameter } from "../../../api/errors.ts";

/**
 * Reads the proxy's header from the start of the stream. The stream is left
 * paused with whatever followed the header put back, so the next reader sees
 * the client's bytes from the first one.
 */
export function readAppHeader(stream: Duplex, timeoutMs: number): Promise<AppConnHeader> {
  return new Promise((resolve, reject) => {
    let buf: Buffer = Buffer.alloc(0);
    const done = (err: Error | undefined, h?: AppConnHeader, rest?: Buffer) => {
      clearTimeout(timer);
      stream.off("data", onData);
      stream.off("end", onEnd);
      stream.off("close", onEnd);
      stream.pause();
      if (rest && rest.length > 0) stream.unshift(rest);
      if (err || !h) reject(err ?? new Error("no header"));
      else resolve(h);
    };
    const timer = setTimeout(() => done(badParameter("timed out waiting for the app stream header")), timeoutMs);
    const onEnd = () => done(badParameter("stream closed before the app stream header"));
    const onData = (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      try {
        const r = decodeAppHeader(buf);
        if (r.kind === "ok") done(undefined, r.header, buf.subarray(r.consumed));
        else if (buf.length > MAX_APP_HEADER_BYTES + 8) done(badParameter("app stream header too large"));
      } catch (e) {
        done(e instanceof Error ? e : new Error(String(e)));
      }
    };
    stream.on("data", onData);
    stream.once("end", onEnd);
    stream.once("close", onEnd);
    stream.resume();
  });
}

/**
 * A Cookie header without the app-session cookie (the app never sees it);
 * undefined when nothing else is left. Pairs are kept byte for byte.
 */
export function stripSessionCookie(cookie: string): string | undefined {
  const kept = cookie
    .split(";")
    .map((p) => p.trim())
    .filter((p) => p !== "" && p.split("=", 1)[0]?.trim() !== APP_SESSION_COOKIE);
  return kept.length > 0 ? kept.join("; ") : undefined;
}

/** `IP:PORT`, `[v6]:PORT` or a bare address → the IP (X-Forwarded-For carries no port). */
export function clientIp(addr: string): string {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(addr);
  if (bracketed?.[1] !== undefined) return bracketed[1];
  const v4 = /^(\d{1,3}(?:\.\d{1,3}){3}):\d+$/.exec(addr);
  const ip = v4?.[1] ?? addr;
  return ip.startsWith("::ffff:") ? ip.slice(7) : ip;
}

/** The path of a request target without its query string (what audit events record). */
export function requestPath(url: string | undefined): string {
  const u = url ?? "/";
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(u)) {
    try {
      return new URL(u).pathname;
    } catch {
      return "/";
    }
  }
  const q = u.search(/[?#]/);
  return q < 0 ? u : u.slice(0, q);
}
