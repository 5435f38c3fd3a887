/**
 * Pure parsing of what users ask the SSH proxy for: the `proxy:HOST:PORT`
 * subsystem (Teleport's form, optionally `@CLUSTER`), and the names to try for
 * a host given as `NAME`, `UUID`, `NAME.CLUSTER` or `UUID.CLUSTER`.
 */

export interface RouteTarget {
  host: string;
  port: number;
  /** From `proxy:HOST:PORT@CLUSTER`. */
  cluster?: string;
}

const SUBSYSTEM_PREFIX = "proxy:";
const MAX_TARGET_CHARS = 1024;

/**
 * Parses `proxy:HOST:PORT`, `proxy:HOST` (port 0: the node's own), `proxy:[V6]:PORT`
 * and any of them followed by `@CLUSTER`. Returns undefined for anything else.
 */
export function parseProxySubsystem(name: string): RouteTarget | undefined {
  if (!name.startsWith(SUBSYSTEM_PREFIX) || name.length > MAX_TARGET_CHARS) return undefined;
  let rest = name.slice(SUBSYSTEM_PREFIX.length);
  let cluster: string | undefined;
  const at = rest.lastIndexOf("@");
  if (at >= 0) {
    cluster = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!isPlainName(cluster)) return undefined;
  }
  const hp = parseHostPort(rest);
  if (!hp) return undefined;
  return cluster === undefined ? hp : { ...hp, cluster };
}

function parseHostPort(s: string): { host: string; port: number } | undefined {
  let host: string;
  let portText: string | undefined;
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  if (v6) {
    host = v6[1] ?? "";
    portText = v6[2];
  } else {
    const parts = s.split(":");
    if (parts.length > 2) return undefined;
    host = parts[0] ?? "";
    portText = parts[1];
  }
  if (!isPlainName(host)) return undefined;
  if (portText === undefined) return { host, port: 0 };
  if (!/^\d{1,5}$/.test(portText)) return undefined;
  const port = Number(portText);
  return port <= 65_535 ? { host, port } : undefined;
}

/** Non-empty, printable, no whitespace; the resolver decides what exists. */
export function isPlainName(s: string): boolean {
  return s.length > 0 && s.length <= 255 && /^[\x21-\x7e]+$/.test(s);
}

/**
 * The names to look a host up by, best first: `web-1.example` with cluster
 * `example` tries `web-1` then `web-1.example` (a node may itself be named
 * with dots). Without a cluster name, the host as given.
 */
export function hostCandidates(host: string, clusterName?: string): string[] {
  const suffix = clusterName ? `.${clusterName}` : undefined;
  if (suffix && host.length > suffix.length && host.toLowerCase().endsWith(suffix.toLowerCase())) {
    return [host.slice(0, -suffix.length), host];
  }
  return [host];
}
