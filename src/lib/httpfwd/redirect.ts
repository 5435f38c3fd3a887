/**
 * Redirect rewriting: a `Location` that points at the upstream itself (or at
 * one of the hosts the caller lists, an app's `rewrite.redirect`) is turned
 * into the same path on the public address the client used.
 */
export interface LocationRewriteOptions {
  /** Scheme and host the client used: `https://grafana.proxy.example.com`. */
  publicBase: string;
  /** Hosts (with or without a port) to rewrite; the upstream's own host is always one. */
  hosts: readonly string[];
}

export function locationRewriter(o: LocationRewriteOptions): (location: string) => string | undefined {
  const base = new URL(o.publicBase);
  const match = new Set(o.hosts.map((h) => h.toLowerCase()));
  return (location) => {
    let u: URL;
    try {
      u = new URL(location);
    } catch {
      return undefined; // relative: already on the public host
    }
    if (u.protocol !== "http:" && u.protocol !== "https:") return undefined;
    if (!match.has(u.host.toLowerCase()) && !match.has(u.hostname.toLowerCase())) return undefined;
    return `${base.protocol}//${base.host}${u.pathname}${u.search}${u.hash}`;
  };
}
