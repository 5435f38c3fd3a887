/**
 * The `source-address` critical option: a comma-separated list of addresses
 * and CIDR blocks (`10.0.0.0/8,2001:db8::/32,192.0.2.7`), as OpenSSH reads it.
 */
import net from "node:net";
import { badParameter } from "../../../api/errors.ts";

/** Normalizes a list (array or comma-separated) and checks every entry; throws `badParameter`. */
export function normalizeSourceAddressList(list: string | readonly string[]): string {
  const entries = (typeof list === "string" ? list.split(",") : list).map((e) => e.trim());
  if (entries.length === 0 || entries.some((e) => e === "")) throw badParameter("empty entry in source-address list");
  parseSourceAddressList(entries.join(","));
  return entries.join(",");
}

export function parseSourceAddressList(list: string): net.BlockList {
  const block = new net.BlockList();
  for (const raw of list.split(",")) {
    const entry = raw.trim();
    const m = /^([0-9A-Fa-f:.]+)(?:\/(\d{1,3}))?$/.exec(entry);
    const ip = m?.[1] ?? "";
    const family = net.isIP(ip);
    if (!m || family === 0) throw badParameter(`invalid source-address entry ${JSON.stringify(entry.slice(0, 80))}`);
    const max = family === 4 ? 32 : 128;
    const prefix = m[2] === undefined ? max : Number(m[2]);
    if (prefix > max) throw badParameter(`invalid source-address prefix in ${JSON.stringify(entry)}`);
    block.addSubnet(ip, prefix, family === 4 ? "ipv4" : "ipv6");
  }
  return block;
}

/** True when `address` (as a socket reports it, IPv4-mapped IPv6 included) is in the list. */
export function sourceAddressAllowed(list: string, address: string): boolean {
  let block: net.BlockList;
  try {
    block = parseSourceAddressList(list);
  } catch {
    return false;
  }
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  const ip = mapped?.[1] ?? address;
  const family = net.isIP(ip);
  if (family === 0) return false;
  return block.check(ip, family === 4 ? "ipv4" : "ipv6");
}
