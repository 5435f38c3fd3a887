/**
 * Certificate authorities for X.509 (ECDSA P-256, self-signed), chain checks and
 * fingerprints.
 */
import crypto, { type KeyObject, type X509Certificate as NodeX509Certificate } from "node:crypto";
import type { Clock } from "../../../api/clock.ts";
import { accessDenied, badParameter } from "../../../api/errors.ts";
import { generateEcdsaP256 } from "../keys.ts";
import { randomSerial, spki, toName, toSigningKey, toVerifyKey, toX509, x509 } from "./provider.ts";

/** How far in the past `notBefore` is set, to tolerate clock skew. */
export const X509_BACKDATE_MS = 60_000;

export interface CreateCaOptions {
  /** The cluster name. */
  commonName: string;
  organization: string;
  /** Lifetime in years (default 10). */
  ttlYears?: number;
  clock: Clock;
  /** An existing ECDSA P-256 (or Ed25519) key; a new P-256 key is generated when absent. */
  privateKey?: KeyObject;
}

export interface CertificateAuthority {
  certPem: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

/** Creates a self-signed CA certificate (CA:true, keyCertSign, cRLSign); ECDSA P-256 unless an Ed25519 `privateKey` is given. */
export async function createCa(opts: CreateCaOptions): Promise<CertificateAuthority> {
  if (opts.commonName === "") throw badParameter("CA common name is required");
  const years = opts.ttlYears ?? 10;
  if (!Number.isFinite(years) || years <= 0) throw badParameter("CA TTL must be positive");
  const pair = opts.privateKey ? { privateKey: opts.privateKey, publicKey: crypto.createPublicKey(opts.privateKey) } : generateEcdsaP256();
  const signer = await toSigningKey(pair.privateKey);
  const now = opts.clock.now();
  const notAfter = new Date(now);
  notAfter.setUTCFullYear(notAfter.getUTCFullYear() + years);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: toName([{ CN: [opts.commonName] }, { O: [opts.organization] }]),
    notBefore: new Date(now.getTime() - X509_BACKDATE_MS),
    notAfter,
    signingAlgorithm: signer.algorithm,
    keys: { privateKey: signer.key, publicKey: await toVerifyKey(pair.publicKey) },
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
      await x509.SubjectKeyIdentifierExtension.create(spki(pair.publicKey)),
    ],
  });
  return { certPem: cert.toString("pem"), privateKey: pair.privateKey, publicKey: pair.publicKey };
}

function nodeCert(cert: string | Buffer | NodeX509Certificate): NodeX509Certificate {
  if (cert instanceof crypto.X509Certificate) return cert;
  try {
    return new crypto.X509Certificate(cert);
  } catch {
    throw badParameter("malformed X.509 certificate");
  }
}

/**
 * Checks that `cert` was issued and signed by one of `caPems` (a CA certificate) and
 * that both are within their validity at `clock.now()`. Throws `accessDenied`.
 */
export function verifyChain(cert: string | Buffer | NodeX509Certificate, caPems: readonly string[], clock: Clock): ChainValidity {
  const leaf = nodeCert(cert);
  const now = clock.now().getTime();
  for (const pem of caPems) {
    let ca: NodeX509Certificate;
    try {
      ca = new crypto.X509Certificate(pem);
    } catch {
      continue;
    }
    if (!ca.ca || !leaf.checkIssued(ca) || !leaf.verify(ca.publicKey)) continue;
    const v = { ca: validityOf(ca), leaf: validityOf(leaf) };
    checkValidity(v, now);
    return v;
  }
  throw accessDenied("certificate signed by an unknown authority");
}

/** The validity windows of a verified chain: the CA that signed the certificate, and the certificate. */
export interface ChainValidity {
  ca: { notBefore: Date; notAfter: Date };
  leaf: { notBefore: Date; notAfter: Date };
}

function validityOf(c: NodeX509Certificate): { notBefore: Date; notAfter: Date } {
  const parsed = toX509(c);
  return { notBefore: parsed.notBefore, notAfter: parsed.notAfter };
}

/** Throws `accessDenied` unless `now` is within both windows (the CA's first), as `verifyChain` does. */
export function checkValidity(v: ChainValidity, now: number): void {
  const within = (w: { notBefore: Date; notAfter: Date }, what: string) => {
    if (now < w.notBefore.getTime()) throw accessDenied(`${what} is not valid before ${w.notBefore.toISOString()}`);
    if (now > w.notAfter.getTime()) throw accessDenied(`${what} expired at ${w.notAfter.toISOString()}`);
  };
  within(v.ca, "certificate authority");
  within(v.leaf, "certificate");
}

/** SHA-256 of the certificate's DER, lowercase hex. */
export function certFingerprint(cert: string | Buffer | NodeX509Certificate): string {
  return crypto.createHash("sha256").update(nodeCert(cert).raw).digest("hex");
}
