/**
 * Subject public keys for issuing: a validated key as its SubjectPublicKeyInfo
 * DER, which is all a certificate needs.
 *
 * OpenSSL 3 takes ~200 µs to decode a PEM public key and as long again to
 * export it, four times the cost of the signature. The usual case (an
 * uncompressed ECDSA P-256 key in the canonical SPKI encoding) is therefore
 * read here directly and checked with the curve equation, which is the same
 * validation OpenSSL applies (P-256 has cofactor 1, so every point on the
 * curve is in the signing group). Anything else goes through `node:crypto` as
 * before.
 */
import crypto, { type KeyObject } from "node:crypto";
import { badParameter } from "../../../api/errors.ts";
import { spki } from "./provider.ts";

// SEQUENCE { SEQUENCE { id-ecPublicKey, prime256v1 }, BIT STRING (0 unused bits) 0x04 ... }
const P256_SPKI_PREFIX = Buffer.from("3059301306072a8648ce3d020106082a8648ce3d03010703420004", "hex");
const P256_SPKI_LENGTH = P256_SPKI_PREFIX.length + 64;

const P = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn;
const B = 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn;

/** y² = x³ − 3x + b (mod p), with both coordinates reduced. */
function onP256(xb: Buffer, yb: Buffer): boolean {
  const x = BigInt(`0x${xb.toString("hex")}`);
  const y = BigInt(`0x${yb.toString("hex")}`);
  if (x >= P || y >= P) return false;
  const rhs = (((((x * x) % P) * x) % P) - 3n * x + B) % P;
  return (((y * y - rhs) % P) + P) % P === 0n;
}

const PEM = /^-----BEGIN PUBLIC KEY-----\r?\n([A-Za-z0-9+/=\r\n]+?)\r?\n-----END PUBLIC KEY-----\r?\n?$/;

/** A validated subject public key. Only this module makes them, so `spki` is always checked DER. */
export class SubjectPublicKey {
  private constructor(
    /** SubjectPublicKeyInfo, DER. */
    readonly spki: Buffer,
  ) {}

  static fromKeyObject(key: KeyObject): SubjectPublicKey {
    if (key.type !== "public" && key.type !== "private") throw badParameter("expected a public key");
    return new SubjectPublicKey(Buffer.from(spki(key)));
  }

  /**
   * A public key from PEM (anything `crypto.createPublicKey` accepts); throws
   * `badParameter` when it is not a valid key.
   */
  static fromPem(pem: string): SubjectPublicKey {
    const fast = p256FromPem(pem);
    if (fast) return new SubjectPublicKey(fast);
    let key: KeyObject;
    try {
      key = crypto.createPublicKey(pem);
    } catch {
      throw badParameter("not a valid PEM public key");
    }
    return SubjectPublicKey.fromKeyObject(key);
  }
}

/** The SPKI DER of a canonical, valid, uncompressed P-256 key in strict PEM; undefined for anything else. */
function p256FromPem(pem: string): Buffer | undefined {
  if (pem.length > 256) return undefined;
  const m = PEM.exec(pem);
  if (!m?.[1]) return undefined;
  const b64 = m[1].replace(/\r?\n/g, "");
  const der = Buffer.from(b64, "base64");
  // Buffer's base64 decoder is lenient: insist on the canonical text.
  if (der.length !== P256_SPKI_LENGTH || der.toString("base64") !== b64) return undefined;
  if (!der.subarray(0, P256_SPKI_PREFIX.length).equals(P256_SPKI_PREFIX)) return undefined;
  const at = P256_SPKI_PREFIX.length;
  if (!onP256(der.subarray(at, at + 32), der.subarray(at + 32, at + 64))) throw badParameter("not a valid PEM public key");
  return der;
}
