import type { X509Certificate } from "node:crypto";
import { decodeIdentity, type Identity } from "../../crypto/index.ts";

/** What decoding a client certificate gave: its identity, or why it carries none. */
export type DecodedPeer = { ok: true; identity: Identity } | { ok: false; reason: string };

/**
 * A bounded LRU of decoded client certificates, keyed by the certificate's exact
 * DER bytes, so that a connection's calls (and a client's reconnects) decode its
 * certificate once instead of on every call.
 *
 * Only the decoding is cached, which depends on nothing but the bytes. Whether
 * the certificate is trusted is still the TLS handshake's verdict for each
 * connection, and the caller's expiry, user and roles are still checked against
 * the clock and the backend on every call (`resolveCaller`). Identities are
 * frozen because callers share them.
 */
export class PeerIdentityCache {
  private readonly entries = new Map<string, DecodedPeer>();

  constructor(
    readonly maxEntries = 10_000,
    private readonly decode: (der: Buffer) => Identity = decodeIdentity,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  lookup(cert: X509Certificate): DecodedPeer {
    const der = cert.raw;
    const key = der.toString("base64");
    const hit = this.entries.get(key);
    if (hit !== undefined) {
      // Move to the young end.
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit;
    }
    let decoded: DecodedPeer;
    try {
      decoded = { ok: true, identity: deepFreeze(this.decode(der)) };
    } catch {
      decoded = { ok: false, reason: "client certificate carries no Jumpgate identity" };
    }
    this.entries.set(key, decoded);
    if (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    return decoded;
  }

  clear(): void {
    this.entries.clear();
  }
}

function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === "object" && !(v instanceof Date) && !Object.isFrozen(v)) {
    for (const x of Object.values(v)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
}
