/**
 * The app-session cookie (`__Host-jumpgate_app_session`): host-only on the
 * app's public address, sent on top-level navigations from other sites
 * (SameSite=Lax, so links to the app work) and never readable by scripts.
 */
import type { IncomingMessage } from "node:http";
import { APP_SESSION_COOKIE } from "../../../api/appwire.ts";

const ATTRS = "Path=/; Secure; HttpOnly; SameSite=Lax";

/** The value of cookie `name` in the request, or undefined (also when empty). */
export function readCookie(req: Pick<IncomingMessage, "headers">, name = APP_SESSION_COOKIE): string | undefined {
  for (const part of (req.headers.cookie ?? "").split(";")) {
    const i = part.indexOf("=");
    if (i > 0 && part.slice(0, i).trim() === name) {
      const v = part.slice(i + 1).trim();
      return v === "" ? undefined : v;
    }
  }
  return undefined;
}

/** Set-Cookie for a new app session; it lives until `expires` (never past it). */
export function appSessionCookie(value: string, expires: Date, now: Date): string {
  const maxAge = Math.max(0, Math.floor((expires.getTime() - now.getTime()) / 1000));
  return `${APP_SESSION_COOKIE}=${value}; ${ATTRS}; Max-Age=${maxAge}`;
}

export function clearedAppSessionCookie(): string {
  return `${APP_SESSION_COOKIE}=; ${ATTRS}; Max-Age=0`;
}

/** A Cookie header without cookie `name` (the app never sees the proxy's session); undefined when nothing is left. */
export function withoutCookie(header: string | undefined, name = APP_SESSION_COOKIE): string | undefined {
  if (header === undefined) return undefined;
  const kept = header
    .split(";")
    .map((p) => p.trim())
    .filter((p) => p !== "" && p.slice(0, Math.max(0, p.indexOf("="))).trim() !== name);
  return kept.length === 0 ? undefined : kept.join("; ");
}
