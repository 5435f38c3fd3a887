import { isIP } from "node:net";
import { badParameter } from "../../api/errors.ts";

export interface HostPort {
  /** Without brackets for IPv6; "0.0.0.0" when the address was ":PORT". */
  host: string;
  port: number;
}

const HOSTNAME_RE = /^(?=.{1,253}$)[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})?(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})?)*\.?$/;

function parsePort(s: string, addr: string): number {
  if (!/^\d{1,5}$/.test(s)) throw badParameter(`"${addr}": expected HOST:PORT`);
  const port = Number(s);
  if (port > 65535) throw badParameter(`"${addr}": port must be between 0 and 65535`);
  return port;
}

/**
 * "host:port", "[v6]:port", ":port" (all interfaces) or, with a default port,
 * "host", "[v6]" or a bare IPv6 address. Throws a bad-parameter error.
 */
export function parseHostPort(addr: string, defaultPort?: number): HostPort {
  const s = addr.trim();
  let host: string;
  let portText: string | undefined;
  if (s.startsWith("[")) {
    const end = s.indexOf("]");
    if (end < 0) throw badParameter(`"${addr}": missing "]" in IPv6 address`);
    host = s.slice(1, end);
    const rest = s.slice(end + 1);
    if (rest !== "" && !rest.startsWith(":")) throw badParameter(`"${addr}": expected HOST:PORT`);
    portText = rest === "" ? undefined : rest.slice(1);
    if (isIP(host) !== 6) throw badParameter(`"${addr}": invalid IPv6 address`);
  } else {
    const colons = s.split(":").length - 1;
    if (colons > 1) {
      // A bare IPv6 address; a port needs brackets.
      host = s;
      portText = undefined;
      if (isIP(host) !== 6) throw badParameter(`"${addr}": expected HOST:PORT (write IPv6 as [addr]:port)`);
    } else if (colons === 1) {
      const i = s.indexOf(":");
      host = s.slice(0, i);
      portText = s.slice(i + 1);
    } else {
      host = s;
      portText = undefined;
    }
    if (host === "" && portText !== undefined) host = "0.0.0.0";
    if (host === "" || (isIP(host) === 0 && !HOSTNAME_RE.test(host))) throw badParameter(`"${addr}": invalid host`);
  }
  if (portText === undefined) {
    if (defaultPort === undefined) throw badParameter(`"${addr}": expected HOST:PORT`);
    return { host, port: defaultPort };
  }
  return { host, port: parsePort(portText, addr) };
}

/** The inverse of parseHostPort: brackets IPv6 hosts. */
export function formatHostPort(hp: HostPort): string {
  return isIP(hp.host) === 6 ? `[${hp.host}]:${hp.port}` : `${hp.host}:${hp.port}`;
}
