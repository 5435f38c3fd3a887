/**
 * Application access on the wire, shared by the proxy (`lib/proxy/appproxy`),
 * the Application Service (`lib/srv/app`) and `jsh proxy app` (`lib/client`),
 * so that none of them imports another (DESIGN §7):
 *
 * - the **stream header** the proxy sends first on every reverse-tunnel stream
 *   it opens to an Application Service (dial target `app:NAME`): `"JGAP"`, a
 *   big-endian uint32 length, then that many bytes of UTF-8 JSON
 *   `{"v":1,"cert":PEM,"clientAddr":"IP:PORT","app":NAME,"publicAddr":HOST}`.
 *   `cert` is the user's certificate chain, leaf first: the one the user
 *   presented to the proxy (`jsh proxy app`), or the app session's (browser).
 *   The service verifies it itself against the user CA. After the header the
 *   stream carries the client's bytes as they are: HTTP/1.1 for http(s) apps,
 *   anything for tcp apps;
 * - the ALPN protocols and server name `jsh proxy app` uses to reach the proxy.
 */
import { badParameter } from "./errors.ts";

export const APP_HEADER_MAGIC = Buffer.from("JGAP", "latin1");
/** The largest header body either side accepts (a PEM chain is ~1–3 KiB). */
export const MAX_APP_HEADER_BYTES = 64 * 1024;
/** Reverse-tunnel dial targets for apps are `app:` + the app's name. */
export const APP_DIAL_PREFIX = "app:";

/**
 * `jsh proxy app` opens TLS to the proxy with this ALPN protocol and, inside
 * it, a second TLS with the user's app certificate (as `jsh proxy db` does).
 * `jumpgate-tcp` is accepted as the same route (DESIGN §5).
 */
export const APP_ALPN = "jumpgate-app";
export const TCP_APP_ALPN = "jumpgate-tcp";
/** The inner TLS's server name: the app's name + this suffix (never a real host). */
export const APP_SNI_SUFFIX = ".app.jumpgate.invalid";

/** The header that carries the signed identity to apps. */
export const APP_JWT_HEADER = "jumpgate-jwt-assertion";
/** The browser's app-session cookie, host-only on the app's public address. */
export const APP_SESSION_COOKIE = "__Host-jumpgate_app_session";
/** Path on an app's host where the proxy exchanges a launch token for the cookie. */
export const APP_AUTH_PATH = "/x-jumpgate-app-auth";
/** Path on an app's host that ends the app session (clears the cookie). */
export const APP_LOGOUT_PATH = "/x-jumpgate-app-logout";

export interface AppConnHeader {
  /** PEM certificates of the user, leaf first. */
  cert: string;
  /** The user's address as the proxy saw it. */
  clientAddr: string;
  /** The app the proxy routed to (the certificate's route-to-app name). */
  app: string;
  /** The host the user reached the app at (`X-Forwarded-Host`); empty for jsh proxy app. */
  publicAddr: string;
}

export function encodeAppHeader(h: AppConnHeader): Buffer {
  const body = Buffer.from(JSON.stringify({ v: 1, cert: h.cert, clientAddr: h.clientAddr, app: h.app, publicAddr: h.publicAddr }), "utf8");
  if (body.length > MAX_APP_HEADER_BYTES) throw badParameter("app stream header too large");
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([APP_HEADER_MAGIC, len, body]);
}

export type AppHeaderParse = { kind: "need-more" } | { kind: "ok"; header: AppConnHeader; consumed: number };

/** Pure: reads a header from the start of `buf`. Throws `bad-parameter` on anything malformed. */
export function decodeAppHeader(buf: Buffer): AppHeaderParse {
  const n = Math.min(buf.length, APP_HEADER_MAGIC.length);
  if (!buf.subarray(0, n).equals(APP_HEADER_MAGIC.subarray(0, n))) throw badParameter("not an app stream header");
  if (buf.length < 8) return { kind: "need-more" };
  const len = buf.readUInt32BE(4);
  if (len > MAX_APP_HEADER_BYTES) throw badParameter("app stream header too large");
  if (buf.length < 8 + len) return { kind: "need-more" };
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(buf.subarray(8, 8 + len)));
  } catch {
    throw badParameter("malformed app stream header");
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw badParameter("malformed app stream header");
  const o = v as Record<string, unknown>;
  if (o.v !== 1) throw badParameter("unsupported app stream header version");
  if (typeof o.cert !== "string" || typeof o.clientAddr !== "string" || typeof o.app !== "string" || typeof o.publicAddr !== "string") {
    throw badParameter("malformed app stream header");
  }
  return { kind: "ok", header: { cert: o.cert, clientAddr: o.clientAddr, app: o.app, publicAddr: o.publicAddr }, consumed: 8 + len };
}

export function appSni(app: string): string {
  return `${app}${APP_SNI_SUFFIX}`;
}

/** The app a client named in its inner SNI; undefined when absent or something else. */
export function appFromSni(sni: string | false | null | undefined): string | undefined {
  if (typeof sni !== "string" || !sni.toLowerCase().endsWith(APP_SNI_SUFFIX) || sni.length === APP_SNI_SUFFIX.length) return undefined;
  return sni.slice(0, -APP_SNI_SUFFIX.length);
}
