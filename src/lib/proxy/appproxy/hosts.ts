/**
 * Pure helpers for where apps live (DESIGN §5, docs/app-access.md): which
 * host names are apps (`NAME.<proxy host>` or an app's own `public_addr`),
 * whether a request's Host matches the name the browser asked TLS for, and
 * the URLs of the launch flow. No sockets, no Auth.
 */
import net from "node:net";
import { APP_AUTH_PATH } from "../../../api/appwire.ts";
import { isValidAppName } from "../../../api/resources/index.ts";

/** `host[:port]` → its host, lowercased, without brackets or a trailing dot; "" when empty or malformed. */
export function hostOf(hostPort: string | undefined): string {
  if (!hostPort) return "";
  let h = hostPort.trim().toLowerCase();
  if (h.startsWith("[")) {
    const end = h.indexOf("]");
    if (end < 0) return "";
    const rest = h.slice(end + 1);
    if (rest !== "" && !/^:\d{1,5}$/.test(rest)) return "";
    return h.slice(1, end);
  }
  // A bare IPv6 address (more than one colon) has no port.
  if ((h.match(/:/g) ?? []).length === 1) {
    const i = h.indexOf(":");
    if (!/^\d{1,5}$/.test(h.slice(i + 1))) return "";
    h = h.slice(0, i);
  }
  return h.endsWith(".") ? h.slice(0, -1) : h;
}

/** The port in `host:port`, or undefined. */
export function portOf(hostPort: string): number | undefined {
  const m = /^(?:\[[^\]]*\]|[^:]*):(\d{1,5})$/.exec(hostPort.trim());
  return m?.[1] === undefined ? undefined : Number(m[1]);
}

export function isIpHost(host: string): boolean {
  return net.isIP(host) !== 0;
}

/**
 * The app at `host` (already normalised with `hostOf`): an app whose
 * `public_addr` names this host, else `NAME.<proxy host>` one label deeper
 * than the proxy's public host. A proxy reached by IP address has no app
 * subdomains.
 */
export function appForHost(host: string, proxyHost: string, publicAddrs: ReadonlyMap<string, string> = new Map()): string | undefined {
  if (host === "") return undefined;
  const configured = publicAddrs.get(host);
  if (configured !== undefined) return configured;
  return appSubdomain(host, proxyHost);
}

/** `NAME` when `host` is `NAME.<proxyHost>` with a valid app name; undefined otherwise. */
export function appSubdomain(host: string, proxyHost: string): string | undefined {
  const p = hostOf(proxyHost);
  if (p === "" || isIpHost(p) || !host.endsWith(`.${p}`)) return undefined;
  const name = host.slice(0, -(p.length + 1));
  return isValidAppName(name) ? name : undefined;
}

/** Host names (normalised) of apps' configured `public_addr`, to the app's name. First one wins. */
export function publicAddrIndex(apps: Iterable<{ name: string; publicAddr?: string | undefined }>): Map<string, string> {
  const out = new Map<string, string>();
  for (const a of apps) {
    const h = hostOf(a.publicAddr);
    if (h !== "" && !out.has(h)) out.set(h, a.name);
  }
  return out;
}

/** The browser's Host header must name the host it asked TLS for (SNI); else 421. */
export function hostMatchesSni(hostHeader: string | undefined, sni: string | undefined): boolean {
  const h = hostOf(hostHeader);
  return h !== "" && sni !== undefined && h === hostOf(sni);
}

/**
 * Where to go after the launch: a path on the app's own host only. Anything
 * that is not a relative path starting with exactly one `/` (`//evil`, `/\evil`,
 * `https://…`, control characters) becomes `/`.
 */
export function safeAppPath(path: string | null | undefined): string {
  if (typeof path !== "string" || path === "" || path.length > 4096) return "/";
  if (!path.startsWith("/") || path.startsWith("//") || path.startsWith("/\\")) return "/";
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (/[\u0000-\u001f\u007f\\]/.test(path)) return "/";
  return path;
}

/** `https://HOST[:PORT]` for an app's public address: the proxy's port when the address has none (443 left out). */
export function appOrigin(publicAddr: string, proxyPublicAddr: string): string {
  const host = hostOf(publicAddr);
  const port = portOf(publicAddr) ?? portOf(proxyPublicAddr) ?? 443;
  const h = host.includes(":") ? `[${host}]` : host;
  return port === 443 ? `https://${h}` : `https://${h}:${port}`;
}

/** The URL the launch route sends the browser to: the app's host exchanges the token for its cookie there. */
export function appAuthUrl(publicAddr: string, proxyPublicAddr: string, launchToken: string, path: string): string {
  const q = new URLSearchParams({ token: launchToken, path: safeAppPath(path) });
  return `${appOrigin(publicAddr, proxyPublicAddr)}${APP_AUTH_PATH}?${q.toString()}`;
}

/** The proxy's launch route for `app`, coming back to `path` on the app's host. */
export function launchUrl(proxyPublicAddr: string, app: string, path: string): string {
  const origin = appOrigin(proxyPublicAddr, proxyPublicAddr);
  return `${origin}/web/launch/${encodeURIComponent(app)}?${new URLSearchParams({ path: safeAppPath(path) }).toString()}`;
}
