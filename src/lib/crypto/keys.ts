/**
 * Key pairs (Ed25519 for SSH, ECDSA P-256 for X.509 and SSH) as `node:crypto`
 * KeyObjects, and their SSH public forms: the wire blob (RFC 8709, RFC 5656),
 * the `authorized_keys` line and the ssh-keygen SHA256 fingerprint; plus PEM
 * (PKCS8 / SPKI) helpers for storing keys.
 */
import crypto, { type KeyObject } from "node:crypto";
import { badParameter } from "../../api/errors.ts";
import { str, WireReader } from "./wire.ts";

export interface KeyPair {
  publicKey: KeyObject;
  privateKey: KeyObject;
}

export type SshKeyAlgorithm = "ssh-ed25519" | "ecdsa-sha2-nistp256";

export const SSH_ED25519: SshKeyAlgorithm = "ssh-ed25519";
export const SSH_ECDSA_P256: SshKeyAlgorithm = "ecdsa-sha2-nistp256";

export function generateEd25519(): KeyPair {
  return crypto.generateKeyPairSync("ed25519");
}

export function generateEcdsaP256(): KeyPair {
  return crypto.generateKeyPairSync("ec", { namedCurve: "P-256" });
}

/** The public half of a key (a public key is returned as is). */
export function toPublicKey(key: KeyObject): KeyObject {
  if (key.type === "public") return key;
  if (key.type === "private") return crypto.createPublicKey(key);
  throw badParameter("expected an asymmetric key");
}

/** The SSH algorithm name of a supported key, or `badParameter`. */
export function sshKeyAlgorithm(key: KeyObject): SshKeyAlgorithm {
  if (key.asymmetricKeyType === "ed25519") return SSH_ED25519;
  if (key.asymmetricKeyType === "ec" && key.asymmetricKeyDetails?.namedCurve === "prime256v1") return SSH_ECDSA_P256;
  throw badParameter(`unsupported key type ${key.asymmetricKeyType ?? "unknown"} (want Ed25519 or ECDSA P-256)`);
}

// Raw bytes come from the fixed-layout DER encodings rather than a JWK export: on
// Node 20, exporting a freshly generated key as JWK can deadlock when garbage
// collection runs inside the export.
const ED25519_SPKI_LEN = 44;
const ED25519_PKCS8_LEN = 48;
const P256_SPKI_LEN = 91;

function tail(der: Buffer, expectedLen: number, size: number): Buffer {
  if (der.length !== expectedLen) throw badParameter("unexpected key encoding");
  return Buffer.from(der.subarray(der.length - size));
}

/** Raw public key bytes: 32 bytes for Ed25519, the uncompressed point (0x04||X||Y) for P-256. */
export function rawPublicKey(key: KeyObject): Buffer {
  const der = toPublicKey(key).export({ format: "der", type: "spki" });
  if (sshKeyAlgorithm(key) === SSH_ED25519) return tail(der, ED25519_SPKI_LEN, 32);
  const point = tail(der, P256_SPKI_LEN, 65);
  if (point[0] !== 4) throw badParameter("unexpected key encoding");
  return point;
}

/** The raw private scalar/seed (32 bytes for both supported types). */
export function rawPrivateKey(key: KeyObject): Buffer {
  if (key.type !== "private") throw badParameter("expected a private key");
  if (sshKeyAlgorithm(key) === SSH_ED25519) return tail(key.export({ format: "der", type: "pkcs8" }), ED25519_PKCS8_LEN, 32);
  // SEC1 ECPrivateKey: SEQUENCE { INTEGER 1, OCTET STRING (32) d, ... }.
  const der = key.export({ format: "der", type: "sec1" });
  const at = der[1] === 0x81 ? 3 : 2;
  if (der[0] !== 0x30 || der[at] !== 0x02 || der[at + 1] !== 0x01 || der[at + 2] !== 0x01 || der[at + 3] !== 0x04 || der[at + 4] !== 0x20) {
    throw badParameter("unexpected key encoding");
  }
  return Buffer.from(der.subarray(at + 5, at + 5 + 32));
}

export function ed25519PublicFromRaw(raw: Buffer): KeyObject {
  if (raw.length !== 32) throw badParameter("malformed Ed25519 public key");
  try {
    return crypto.createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: raw.toString("base64url") }, format: "jwk" });
  } catch {
    throw badParameter("malformed Ed25519 public key");
  }
}

export function p256PublicFromPoint(point: Buffer): KeyObject {
  if (point.length !== 65 || point[0] !== 4) throw badParameter("malformed ECDSA public key (want an uncompressed P-256 point)");
  const x = point.subarray(1, 33).toString("base64url");
  const y = point.subarray(33).toString("base64url");
  try {
    return crypto.createPublicKey({ key: { kty: "EC", crv: "P-256", x, y }, format: "jwk" });
  } catch {
    throw badParameter("malformed ECDSA public key (point not on P-256)");
  }
}

/** The key-specific fields that follow the algorithm name in a key blob or certificate. */
export function writePublicKeyFields(key: KeyObject): Buffer {
  if (sshKeyAlgorithm(key) === SSH_ED25519) return str(rawPublicKey(key));
  return Buffer.concat([str("nistp256"), str(rawPublicKey(key))]);
}

/** Reads the key-specific fields of `alg` (the inverse of `writePublicKeyFields`). */
export function readPublicKeyFields(alg: SshKeyAlgorithm, r: WireReader): KeyObject {
  if (alg === SSH_ED25519) return ed25519PublicFromRaw(r.bytes());
  const curve = r.bytes().toString("latin1");
  if (curve !== "nistp256") throw badParameter("malformed ECDSA public key: curve does not match nistp256");
  return p256PublicFromPoint(r.bytes());
}

export function isSshKeyAlgorithm(name: string): name is SshKeyAlgorithm {
  return name === SSH_ED25519 || name === SSH_ECDSA_P256;
}

/** The SSH public key blob (`string alg` + key fields). Accepts a private or public key. */
export function sshPublicKeyBlob(key: KeyObject): Buffer {
  return Buffer.concat([str(sshKeyAlgorithm(key)), writePublicKeyFields(key)]);
}

/** `ssh-ed25519 AAAA... comment`, as in `authorized_keys` or a `.pub` file. */
export function sshPublicKeyLine(key: KeyObject, comment?: string): string {
  const line = `${sshKeyAlgorithm(key)} ${sshPublicKeyBlob(key).toString("base64")}`;
  return comment ? `${line} ${comment.replace(/[\r\n]/g, " ")}` : line;
}

/** Parses an SSH public key blob into a KeyObject. */
export function parseSshPublicKeyBlob(blob: Buffer): KeyObject {
  const r = new WireReader(blob, "SSH public key");
  const alg = r.bytes().toString("latin1");
  if (!isSshKeyAlgorithm(alg)) throw badParameter(`unsupported SSH key type ${JSON.stringify(alg.slice(0, 64))}`);
  const key = readPublicKeyFields(alg, r);
  r.end();
  return key;
}

/** Splits `type base64 [comment]` and checks that the type matches the blob. */
export function splitSshLine(line: string): { type: string; blob: Buffer; comment: string } {
  const m = /^\s*(\S+)\s+([A-Za-z0-9+/]+={0,2})(?:\s+(.*?))?\s*$/s.exec(line);
  if (!m) throw badParameter("malformed SSH key line");
  const type = m[1] ?? "";
  const blob = Buffer.from(m[2] ?? "", "base64");
  const r = new WireReader(blob, "SSH key line");
  if (r.bytes().toString("latin1") !== type) throw badParameter("SSH key line type does not match its data");
  return { type, blob, comment: m[3] ?? "" };
}

/** Parses an `authorized_keys`-style line (`type base64 [comment]`) or a raw blob. */
export function parseSshPublicKey(lineOrBlob: string | Buffer): KeyObject {
  if (Buffer.isBuffer(lineOrBlob)) return parseSshPublicKeyBlob(lineOrBlob);
  return parseSshPublicKeyBlob(splitSshLine(lineOrBlob).blob);
}

/**
 * `SHA256:...` as `ssh-keygen -l` prints it. Accepts a key, a public key blob (hashed as
 * given) or an `authorized_keys` line.
 */
export function sshFingerprint(key: KeyObject | Buffer | string): string {
  const blob = Buffer.isBuffer(key) ? key : typeof key === "string" ? sshPublicKeyBlob(parseSshPublicKey(key)) : sshPublicKeyBlob(key);
  return `SHA256:${crypto.createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
}

/** True when both keys have the same public half. */
export function publicKeysEqual(a: KeyObject, b: KeyObject): boolean {
  const da = toPublicKey(a).export({ format: "der", type: "spki" });
  const db = toPublicKey(b).export({ format: "der", type: "spki" });
  return da.length === db.length && crypto.timingSafeEqual(da, db);
}

// ---- PEM, for storing keys ----

export function privateKeyToPem(key: KeyObject): string {
  if (key.type !== "private") throw badParameter("expected a private key");
  return key.export({ format: "pem", type: "pkcs8" }).toString();
}

export function publicKeyToPem(key: KeyObject): string {
  return toPublicKey(key).export({ format: "pem", type: "spki" }).toString();
}

/** Reads a PEM private key (PKCS8, SEC1 or PKCS1). For OpenSSH's format use `parseOpenSshPrivateKey`. */
export function privateKeyFromPem(pem: string | Buffer): KeyObject {
  try {
    return crypto.createPrivateKey({ key: pem, format: "pem" });
  } catch {
    throw badParameter("malformed PEM private key");
  }
}

export function publicKeyFromPem(pem: string | Buffer): KeyObject {
  try {
    return crypto.createPublicKey({ key: pem, format: "pem" });
  } catch {
    throw badParameter("malformed PEM public key");
  }
}
