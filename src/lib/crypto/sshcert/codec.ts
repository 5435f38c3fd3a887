/**
 * OpenSSH certificates (PROTOCOL.certkeys), as pure functions over Buffers:
 *
 *   string "ssh-ed25519-cert-v01@openssh.com" | "ecdsa-sha2-nistp256-cert-v01@openssh.com"
 *   string nonce, <key fields>, uint64 serial, uint32 type (1 user, 2 host), string key id,
 *   string principals (packed strings), uint64 valid after, uint64 valid before,
 *   string critical options, string extensions (name, data pairs, sorted by name),
 *   string reserved, string signature key (an SSH public key blob), string signature
 *
 * An option's data is empty for a flag, or a string holding the value.
 * The signature covers everything before the final signature field.
 */
import type { KeyObject } from "node:crypto";
import { badParameter } from "../../../api/errors.ts";
import {
  isSshKeyAlgorithm,
  parseSshPublicKeyBlob,
  readPublicKeyFields,
  type SshKeyAlgorithm,
  splitSshLine,
  sshKeyAlgorithm,
  sshPublicKeyBlob,
  writePublicKeyFields,
} from "../keys.ts";
import { str, u32, u64, WireReader } from "../wire.ts";

export type SshCertAlgorithm = "ssh-ed25519-cert-v01@openssh.com" | "ecdsa-sha2-nistp256-cert-v01@openssh.com";
export type SshCertType = "user" | "host";

/** `valid before` of a certificate that never expires. */
export const FOREVER = 0xffffffffffffffffn;

const CERT_SUFFIX = "-cert-v01@openssh.com";
const TYPE_CODES: Record<SshCertType, number> = { user: 1, host: 2 };
/** The latest instant a JS Date can hold; used for `valid before` beyond it (e.g. forever). */
const MAX_DATE_SECONDS = 8_640_000_000_000n;

/** Everything in a certificate except the signature. Times are seconds since the epoch. */
export interface SshCertificateBody {
  nonce: Buffer;
  publicKey: KeyObject;
  serial: bigint;
  type: SshCertType;
  keyId: string;
  principals: readonly string[];
  validAfterSeconds: bigint;
  validBeforeSeconds: bigint;
  criticalOptions: ReadonlyMap<string, string>;
  extensions: ReadonlyMap<string, string>;
  reserved: Buffer;
  /** The CA's public key. */
  signatureKey: KeyObject;
}

export interface SshCertificate extends SshCertificateBody {
  algorithm: SshCertAlgorithm;
  /** `validAfterSeconds` as a Date. */
  validAfter: Date;
  /** `validBeforeSeconds` as a Date (clamped to the largest Date for "forever"). */
  validBefore: Date;
  /** The CA's SSH signature blob (string algorithm, string signature). */
  signature: Buffer;
  /** The bytes the signature covers. */
  signedData: Buffer;
  /** The whole certificate blob, as it appears base64-encoded in `-cert.pub`. */
  blob: Buffer;
}

export function certAlgorithmFor(keyAlg: SshKeyAlgorithm): SshCertAlgorithm {
  return keyAlg === "ssh-ed25519" ? "ssh-ed25519-cert-v01@openssh.com" : "ecdsa-sha2-nistp256-cert-v01@openssh.com";
}

export function isCertAlgorithm(name: string): name is SshCertAlgorithm {
  return name.endsWith(CERT_SUFFIX) && isSshKeyAlgorithm(name.slice(0, -CERT_SUFFIX.length));
}

export function secondsToDate(s: bigint): Date {
  return new Date(Number(s > MAX_DATE_SECONDS ? MAX_DATE_SECONDS : s) * 1000);
}

export function dateToSeconds(d: Date): bigint {
  const ms = d.getTime();
  if (!Number.isFinite(ms) || ms < 0) throw badParameter("certificate time out of range");
  return BigInt(Math.floor(ms / 1000));
}

function byName(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

function encodeOptions(options: ReadonlyMap<string, string>, what: string): Buffer {
  const names = [...options.keys()].sort(byName);
  return Buffer.concat(
    names.map((name) => {
      if (name === "") throw badParameter(`empty ${what} name`);
      const value = options.get(name) ?? "";
      return Buffer.concat([str(name), value === "" ? str("") : str(str(value))]);
    }),
  );
}

function decodeOptions(buf: Buffer, what: string): Map<string, string> {
  const r = new WireReader(buf, `certificate ${what}`);
  const out = new Map<string, string>();
  while (r.remaining > 0) {
    const name = r.text();
    const data = r.bytes();
    let value = "";
    if (data.length > 0) {
      const inner = new WireReader(data, `certificate ${what}`);
      value = inner.text();
      inner.end();
    }
    if (out.has(name)) throw badParameter(`malformed certificate: duplicate ${what} ${JSON.stringify(name)}`);
    out.set(name, value);
  }
  return out;
}

/** The signed part of a certificate: everything up to and including the signature key. */
export function encodeCertificateBody(body: SshCertificateBody): Buffer {
  const keyAlg = sshKeyAlgorithm(body.publicKey);
  sshKeyAlgorithm(body.signatureKey);
  if (body.validAfterSeconds > body.validBeforeSeconds) throw badParameter("certificate valid after is later than valid before");
  for (const p of body.principals) if (p === "") throw badParameter("empty certificate principal");
  return Buffer.concat([
    str(certAlgorithmFor(keyAlg)),
    str(body.nonce),
    writePublicKeyFields(body.publicKey),
    u64(body.serial),
    u32(TYPE_CODES[body.type]),
    str(body.keyId),
    str(Buffer.concat(body.principals.map((p) => str(p)))),
    u64(body.validAfterSeconds),
    u64(body.validBeforeSeconds),
    str(encodeOptions(body.criticalOptions, "critical option")),
    str(encodeOptions(body.extensions, "extension")),
    str(body.reserved),
    str(sshPublicKeyBlob(body.signatureKey)),
  ]);
}

/** Appends the signature to an encoded body, giving the certificate blob. */
export function appendSignature(encodedBody: Buffer, signature: Buffer): Buffer {
  return Buffer.concat([encodedBody, str(signature)]);
}

/** Parses a certificate blob. Never verifies: see `verifyCertificate`. Throws `badParameter` on malformed input. */
export function parseCertificateBlob(blob: Buffer): SshCertificate {
  const r = new WireReader(blob, "SSH certificate");
  const algorithm = r.bytes().toString("latin1");
  if (!isCertAlgorithm(algorithm)) throw badParameter(`unsupported SSH certificate type ${JSON.stringify(algorithm.slice(0, 64))}`);
  const keyAlg = algorithm.slice(0, -CERT_SUFFIX.length);
  if (!isSshKeyAlgorithm(keyAlg)) throw badParameter("unsupported SSH certificate type");
  const nonce = r.bytes();
  const publicKey = readPublicKeyFields(keyAlg, r);
  const serial = r.uint64();
  const typeCode = r.uint32();
  const type: SshCertType | undefined = typeCode === 1 ? "user" : typeCode === 2 ? "host" : undefined;
  if (type === undefined) throw badParameter(`malformed SSH certificate: unknown type ${typeCode}`);
  const keyId = r.text();
  const pr = new WireReader(r.bytes(), "certificate principals");
  const principals: string[] = [];
  while (pr.remaining > 0) principals.push(pr.text());
  const validAfterSeconds = r.uint64();
  const validBeforeSeconds = r.uint64();
  const criticalOptions = decodeOptions(r.bytes(), "critical option");
  const extensions = decodeOptions(r.bytes(), "extension");
  const reserved = r.bytes();
  const signatureKey = parseSshPublicKeyBlob(r.bytes());
  const signedData = blob.subarray(0, r.position);
  const signature = r.bytes();
  r.end();
  return {
    algorithm,
    nonce,
    publicKey,
    serial,
    type,
    keyId,
    principals,
    validAfterSeconds,
    validBeforeSeconds,
    validAfter: secondsToDate(validAfterSeconds),
    validBefore: secondsToDate(validBeforeSeconds),
    criticalOptions,
    extensions,
    reserved,
    signatureKey,
    signature,
    signedData,
    blob,
  };
}

/** Parses a certificate from its blob or a `-cert.pub` line (`type base64 [comment]`). */
export function parseCertificate(blobOrLine: Buffer | string): SshCertificate {
  if (Buffer.isBuffer(blobOrLine)) return parseCertificateBlob(blobOrLine);
  return parseCertificateBlob(splitSshLine(blobOrLine).blob);
}

/** `ssh-ed25519-cert-v01@openssh.com AAAA... comment`; the comment defaults to the key id. */
export function formatCertificateLine(cert: SshCertificate, comment: string = cert.keyId): string {
  const line = `${cert.algorithm} ${cert.blob.toString("base64")}`;
  const c = comment.replace(/[\r\n]/g, " ").trim();
  return c === "" ? line : `${line} ${c}`;
}
