/**
 * The one place `@peculiar/x509` is loaded: `reflect-metadata` must come first,
 * and the library is pointed at Node's WebCrypto. Other files import `x509` from here.
 */
import "reflect-metadata";
import crypto, { type KeyObject, type webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";
import { badParameter } from "../../../api/errors.ts";

x509.cryptoProvider.set(crypto.webcrypto);

export { x509 };

type SigningAlgorithm = { name: "ECDSA"; hash: "SHA-256" } | { name: "Ed25519" };

/** The WebCrypto algorithm for a CA key: ECDSA P-256 with SHA-256, or Ed25519. */
function signingAlgorithm(key: KeyObject): SigningAlgorithm {
  if (key.asymmetricKeyType === "ec" && key.asymmetricKeyDetails?.namedCurve === "prime256v1") return { name: "ECDSA", hash: "SHA-256" };
  if (key.asymmetricKeyType === "ed25519") return { name: "Ed25519" };
  throw badParameter("CA keys must be ECDSA P-256 or Ed25519");
}

/** A Node private key as a WebCrypto signing key, with the matching signature algorithm. */
export async function toSigningKey(key: KeyObject): Promise<{ key: webcrypto.CryptoKey; algorithm: SigningAlgorithm }> {
  if (key.type !== "private") throw badParameter("expected a private key");
  const algorithm = signingAlgorithm(key);
  const importAlg = algorithm.name === "ECDSA" ? { name: "ECDSA", namedCurve: "P-256" } : { name: "Ed25519" };
  const der = key.export({ format: "der", type: "pkcs8" });
  const cryptoKey = await crypto.webcrypto.subtle.importKey("pkcs8", der, importAlg, false, ["sign"]);
  return { key: cryptoKey, algorithm };
}

/** A Node public key as a WebCrypto verification key. */
export async function toVerifyKey(key: KeyObject): Promise<webcrypto.CryptoKey> {
  const pub = key.type === "private" ? crypto.createPublicKey(key) : key;
  const alg = signingAlgorithm(pub);
  const importAlg = alg.name === "ECDSA" ? { name: "ECDSA", namedCurve: "P-256" } : { name: "Ed25519" };
  const der = pub.export({ format: "der", type: "spki" });
  return crypto.webcrypto.subtle.importKey("spki", der, importAlg, true, ["verify"]);
}

/** SubjectPublicKeyInfo DER of a key, which the generator accepts for any key type. */
export function spki(key: KeyObject): Uint8Array {
  const pub = key.type === "private" ? crypto.createPublicKey(key) : key;
  return new Uint8Array(pub.export({ format: "der", type: "spki" }));
}

/**
 * A distinguished name from `[{ CN: ["alice"] }, { O: ["access"] }, ...]`, every value a
 * UTF8String taken literally. (Plain strings would go through the library's RFC 4514
 * parsing: quotes and backslashes unescaped, and a leading "#" read as hex DER.)
 */
export function toName(entries: ReadonlyArray<Record<string, readonly string[]>>): x509.Name {
  return new x509.Name(entries.map((e) => Object.fromEntries(Object.entries(e).map(([type, values]) => [type, values.map((v) => ({ utf8String: v }))]))));
}

/** A positive random serial number (hex), as RFC 5280 wants. */
export function randomSerial(): string {
  const b = crypto.randomBytes(16);
  b[0] = ((b[0] ?? 0) & 0x3f) | 0x40;
  return b.toString("hex");
}

/** Parses a PEM string, DER bytes or a Node X509Certificate; throws `badParameter`. */
export function toX509(cert: string | Buffer | Uint8Array | crypto.X509Certificate): x509.X509Certificate {
  try {
    if (cert instanceof crypto.X509Certificate) return new x509.X509Certificate(new Uint8Array(cert.raw));
    if (typeof cert === "string") return new x509.X509Certificate(cert);
    const b = Buffer.from(cert);
    if (b.subarray(0, 11).toString("latin1") === "-----BEGIN ") return new x509.X509Certificate(b.toString("latin1"));
    return new x509.X509Certificate(new Uint8Array(b));
  } catch {
    throw badParameter("malformed X.509 certificate");
  }
}
