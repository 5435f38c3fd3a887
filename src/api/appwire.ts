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
import { decodeStreamHeader, encodeStreamHeader, type HeaderKind, type HeaderParse } from "./streamheader.ts";

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

export type AppConnHeader = {
  /** PEM certificates of the user, leaf first. */
  cert: string;
  /** The user's address as the proxy saw it. */
  clientAddr: string;
  /** The app the proxy routed to (the certificate's route-to-app name). */
  app: string;
  /** The host the user reached the app at (`X-Forwarded-Host`); empty for jsh proxy app. */
  publicAddr: string;
};

const APP_HEADER: HeaderKind<AppConnHeader> = {
  magic: APP_HEADER_MAGIC,
  maxBytes: MAX_APP_HEADER_BYTES,
  label: "app stream header",
  fields: ["cert", "clientAddr", "app", "publicAddr"],
};

export function encodeAppHeader(h: AppConnHeader): Buffer {
  return encodeStreamHeader(APP_HEADER, h);
}

export type AppHeaderParse = HeaderParse<AppConnHeader>;

/** Pure: reads a header from the start of `buf`. Throws `bad-parameter` on anything malformed. */
export function decodeAppHeader(buf: Buffer): AppHeaderParse {
  return decodeStreamHeader(APP_HEADER, buf);
}

export function appSni(app: string): string {
  return `${app}${APP_SNI_SUFFIX}`;
}

/** The app a client named in its inner SNI; undefined when absent or something else. */
export function appFromSni(sni: string | false | null | undefined): string | undefined {
  if (typeof sni !== "string" || !sni.toLowerCase().endsWith(APP_SNI_SUFFIX) || sni.length === APP_SNI_SUFFIX.length) return undefined;
  return sni.slice(0, -APP_SNI_SUFFIX.length);
}
