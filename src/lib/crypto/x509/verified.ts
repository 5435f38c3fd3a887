/**
 * Client certificates checked once per certificate instead of once per
 * connection: `verifyChain` (the signature by one of the given CAs) and
 * `decodeIdentity` are pure functions of the certificate's bytes and the CA
 * set, so their result is kept in a bounded LRU keyed by both. What depends on
 * time — the CA's and the certificate's validity windows — is checked again
 * against the clock on every call, with the same errors as `verifyChain`.
 * Failures are not kept: a bad certificate is checked in full every time.
 */
import crypto, { type X509Certificate as NodeX509Certificate } from "node:crypto";
import type { Clock } from "../../../api/clock.ts";
import { type ChainValidity, checkValidity, verifyChain } from "./ca.ts";
import { decodeIdentity, type Identity } from "./identity.ts";

interface Entry {
  validity: ChainValidity;
  identity: Identity;
}

export class VerifiedIdentityCache {
  private readonly entries = new Map<string, Entry>();
  private casKey: { cas: readonly string[]; key: string } | undefined;

  constructor(readonly maxEntries = 10_000) {}

  get size(): number {
    return this.entries.size;
  }

  /**
   * `verifyChain(cert, caPems, clock)` then `decodeIdentity(cert)`; throws what
   * they throw. The identity returned is frozen (callers share it).
   */
  verify(cert: string | Buffer | NodeX509Certificate, caPems: readonly string[], clock: Clock): Identity {
    const key = `${this.keyOfCas(caPems)}\n${keyOfCert(cert)}`;
    const hit = this.entries.get(key);
    if (hit !== undefined) {
      checkValidity(hit.validity, clock.now().getTime());
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit.identity;
    }
    const validity = verifyChain(cert, caPems, clock);
    const identity = deepFreeze(decodeIdentity(cert));
    this.entries.set(key, { validity, identity });
    if (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    return identity;
  }

  clear(): void {
    this.entries.clear();
  }

  private keyOfCas(cas: readonly string[]): string {
    if (this.casKey?.cas !== cas) {
      const key = crypto.createHash("sha256").update(cas.join("\n")).digest("base64");
      if (this.casKey?.key !== key) this.entries.clear();
      this.casKey = { cas, key };
    }
    return this.casKey.key;
  }
}

/** The certificate's bytes as a map key: DER in base64 (a PEM's own base64, whitespace removed). */
function keyOfCert(cert: string | Buffer | NodeX509Certificate): string {
  if (typeof cert === "string") return pemBody(cert);
  if (Buffer.isBuffer(cert)) {
    return cert.subarray(0, 11).toString("latin1") === "-----BEGIN " ? pemBody(cert.toString("latin1")) : cert.toString("base64");
  }
  return cert.raw.toString("base64");
}

function pemBody(pem: string): string {
  // One certificate: its base64 is the DER's. Anything else is keyed by all of its text.
  const m = /^\s*-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]*)-----END CERTIFICATE-----\s*$/.exec(pem);
  return m?.[1] !== undefined ? m[1].replace(/\s+/g, "") : `text:${pem}`;
}

function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === "object" && !(v instanceof Date) && !Object.isFrozen(v)) {
    for (const x of Object.values(v)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
}
