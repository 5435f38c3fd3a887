/**
 * Header lists for forwarding: the raw name/value pairs of a message (order,
 * case and repeated names kept, as `rawHeaders` gives them), hop-by-hop removal
 * (RFC 9110 §7.6.1) and the edits a caller asks for.
 */

/** Headers that describe one connection, never forwarded (plus every `Proxy-*` and whatever `Connection` names). */
export const HOP_BY_HOP = ["connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"] as const;

export type HeaderPair = [name: string, value: string];

/** Edits a caller gives: `remove` first, then `set` (replaces every value of the name), then `add` (appends). */
export interface HeaderEdits {
  remove?: readonly string[];
  set?: readonly HeaderPair[];
  add?: readonly HeaderPair[];
}

/** An ordered, case-preserving list of header pairs; names compare case-insensitively. */
export class HeaderList {
  private pairs: HeaderPair[];

  constructor(pairs: HeaderPair[] = []) {
    this.pairs = pairs;
  }

  /** From `IncomingMessage.rawHeaders` (name, value, name, value, …). */
  static fromRaw(raw: readonly string[]): HeaderList {
    const pairs: HeaderPair[] = [];
    for (let i = 0; i + 1 < raw.length; i += 2) pairs.push([raw[i] ?? "", raw[i + 1] ?? ""]);
    return new HeaderList(pairs);
  }

  /** Every value of `name`, in order. */
  getAll(name: string): string[] {
    const n = name.toLowerCase();
    return this.pairs.filter(([k]) => k.toLowerCase() === n).map(([, v]) => v);
  }

  /** The first value of `name`. */
  get(name: string): string | undefined {
    return this.getAll(name)[0];
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  delete(name: string): void {
    const n = name.toLowerCase();
    this.pairs = this.pairs.filter(([k]) => k.toLowerCase() !== n);
  }

  /** Replaces every value of `name` with this one, at the place of the first. */
  set(name: string, value: string): void {
    const n = name.toLowerCase();
    const at = this.pairs.findIndex(([k]) => k.toLowerCase() === n);
    if (at < 0) {
      this.pairs.push([name, value]);
      return;
    }
    this.pairs = this.pairs.filter(([k], i) => i === at || k.toLowerCase() !== n);
    this.pairs[at] = [name, value];
  }

  append(name: string, value: string): void {
    this.pairs.push([name, value]);
  }

  apply(edits: HeaderEdits | undefined): void {
    if (!edits) return;
    for (const name of edits.remove ?? []) this.delete(name);
    for (const [name, value] of edits.set ?? []) this.set(name, value);
    for (const [name, value] of edits.add ?? []) this.append(name, value);
  }

  entries(): readonly HeaderPair[] {
    return this.pairs;
  }

  /** The flat form `http.request` and `writeHead` take: [name, value, name, value, …]. */
  toRaw(): string[] {
    return this.pairs.flat();
  }
}

/** Names listed in `Connection` values (lowercased), which are hop-by-hop for this message. */
export function connectionTokens(h: HeaderList): string[] {
  return h
    .getAll("connection")
    .flatMap((v) => v.split(","))
    .map((t) => t.trim().toLowerCase())
    .filter((t) => t !== "");
}

/** Removes the hop-by-hop headers: the fixed list, every `Proxy-*`, and the names `Connection` lists. */
export function stripHopByHop(h: HeaderList): void {
  const named = connectionTokens(h);
  for (const name of [...HOP_BY_HOP, ...named]) h.delete(name);
  for (const [name] of [...h.entries()]) if (name.toLowerCase().startsWith("proxy-")) h.delete(name);
}

/** Rejects values that would split a header (CR, LF, NUL): caller-given values end up on the wire. */
export function isSafeHeaderValue(v: string): boolean {
  return !/[\r\n\0]/.test(v);
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
export function isValidHeaderName(name: string): boolean {
  return TOKEN.test(name);
}
