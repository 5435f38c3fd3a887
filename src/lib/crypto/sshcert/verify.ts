/**
 * Verification: SSH signature blobs, and certificates the way sshd checks
 * them (trusted CA, CA signature, type, validity window, principal, critical
 * options). Failures are `accessDenied` with a one-line reason.
 */
import crypto, { type KeyObject } from "node:crypto";
import type { Clock } from "../../../api/clock.ts";
import { accessDenied } from "../../../api/errors.ts";
import { publicKeysEqual, SSH_ED25519, sshKeyAlgorithm } from "../keys.ts";
import { padTo, WireReader } from "../wire.ts";
import { parseCertificate, type SshCertificate, type SshCertType } from "./codec.ts";
import { OPT_SOURCE_ADDRESS } from "./extensions.ts";
import { sourceAddressAllowed } from "./source-address.ts";

/**
 * Checks an SSH signature blob (string algorithm, string signature; for ECDSA the
 * signature is mpint r, mpint s) over `data` with `publicKey`. Returns false on any
 * mismatch or malformed input; never throws.
 */
export function verifySshSignature(publicKey: KeyObject, data: Buffer, signatureBlob: Buffer): boolean {
  try {
    const r = new WireReader(signatureBlob, "SSH signature");
    const alg = r.bytes().toString("latin1");
    const sig = r.bytes();
    r.end();
    if (alg !== sshKeyAlgorithm(publicKey)) return false;
    if (alg === SSH_ED25519) return sig.length === 64 && crypto.verify(null, data, publicKey, sig);
    const s = new WireReader(sig, "ECDSA signature");
    const rs = Buffer.concat([padTo(s.unsignedMpint(), 32), padTo(s.unsignedMpint(), 32)]);
    s.end();
    return crypto.verify("sha256", data, { key: publicKey, dsaEncoding: "ieee-p1363" }, rs);
  } catch {
    return false;
  }
}

export interface VerifyCertificateOptions {
  /** CA public keys to trust (several during a rotation's grace period). */
  trustedCaKeys: readonly KeyObject[];
  /** The certificate type expected. */
  type: SshCertType;
  /** When given, the certificate must list it among its principals. */
  principal?: string;
  clock: Clock;
  /**
   * The client's address. A certificate with a `source-address` critical option is
   * refused unless this is given and allowed by it.
   */
  sourceAddress?: string;
  /** Critical options the caller enforces itself (e.g. "force-command"); any other unknown one is refused. */
  allowCriticalOptions?: readonly string[];
}

/** Verifies a certificate and returns it parsed, or throws `accessDenied` (`badParameter` if it cannot be parsed). */
export function verifyCertificate(cert: SshCertificate | Buffer | string, opts: VerifyCertificateOptions): SshCertificate {
  const c = typeof cert === "string" || Buffer.isBuffer(cert) ? parseCertificate(cert) : cert;
  if (!opts.trustedCaKeys.some((k) => safeEqual(k, c.signatureKey))) {
    throw accessDenied("certificate signed by an unknown authority");
  }
  if (!verifySshSignature(c.signatureKey, c.signedData, c.signature)) throw accessDenied("certificate signature is invalid");
  if (c.type !== opts.type) throw accessDenied(`expected a ${opts.type} certificate, got a ${c.type} certificate`);
  const now = BigInt(Math.floor(opts.clock.now().getTime() / 1000));
  if (now < c.validAfterSeconds) throw accessDenied(`certificate is not valid before ${c.validAfter.toISOString()}`);
  if (now >= c.validBeforeSeconds) throw accessDenied(`certificate expired at ${c.validBefore.toISOString()}`);
  if (opts.principal !== undefined && !c.principals.includes(opts.principal)) {
    throw accessDenied(`certificate is not valid for principal ${JSON.stringify(opts.principal)}`, `principals: ${c.principals.join(",")}`);
  }
  for (const [name, value] of c.criticalOptions) {
    if (name === OPT_SOURCE_ADDRESS && c.type === "user") {
      if (opts.sourceAddress === undefined) throw accessDenied("certificate is pinned to source addresses but the client address is unknown");
      if (!sourceAddressAllowed(value, opts.sourceAddress)) {
        throw accessDenied(`client address ${opts.sourceAddress} is not allowed by the certificate's source-address`);
      }
    } else if (!(opts.allowCriticalOptions ?? []).includes(name)) {
      throw accessDenied(`certificate has unsupported critical option ${JSON.stringify(name)}`);
    }
  }
  return c;
}

function safeEqual(a: KeyObject, b: KeyObject): boolean {
  try {
    return publicKeysEqual(a, b);
  } catch {
    return false;
  }
}
