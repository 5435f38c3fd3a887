/**
 * Issuing X.509 certificates that carry a Jumpgate identity: client certificates for
 * users and bots, and server certificates (serverAuth + clientAuth) for hosts, which
 * use mTLS both ways.
 */
import crypto, { type KeyObject } from "node:crypto";
import net from "node:net";
import type { Clock } from "../../../api/clock.ts";
import { badParameter } from "../../../api/errors.ts";
import { X509_BACKDATE_MS } from "./ca.ts";
import * as der from "./der.ts";
import { encodeIdentity, type Identity } from "./identity.ts";
import { spki, toX509, x509 } from "./provider.ts";
import { SubjectPublicKey } from "./pubkey.ts";

interface IssueCommon {
  /** The CA certificate (PEM). */
  caCert: string;
  caKey: KeyObject;
  /** The subject's public key (a SubjectPublicKey skips OpenSSL's slow key export). */
  publicKey: KeyObject | SubjectPublicKey;
  ttlMs: number;
  clock: Clock;
}

export interface ClientCertificateRequest extends IssueCommon {
  /** `expires` is replaced by the certificate's notAfter. */
  identity: Identity;
}

export interface ServerCertificateRequest extends IssueCommon {
  /** Subject CN when no identity is given. */
  commonName: string;
  dnsNames: readonly string[];
  ipAddresses: readonly string[];
  /** When given, the subject and identity extension come from it (`expires` is replaced by notAfter). */
  identity?: Identity;
}

/** What issuing needs from a CA, worked out once per CA certificate (parsing it costs milliseconds). */
interface CaInfo {
  /** The CA's subject, DER: the leaf's issuer. */
  issuer: Buffer;
  /** The CA's SubjectPublicKeyInfo, DER, to check the signing key against. */
  spki: Buffer;
  /** The authorityKeyIdentifier extension for leaves. */
  aki: Buffer;
}

const caInfos = new Map<string, CaInfo>();
const MAX_CA_INFOS = 64;

function caInfo(caCert: string): CaInfo {
  const hit = caInfos.get(caCert);
  if (hit) return hit;
  const ca = toX509(caCert);
  const caSpki = Buffer.from(ca.publicKey.rawData);
  const caSki = ca.getExtension(x509.SubjectKeyIdentifierExtension);
  const keyId = caSki ? Buffer.from(caSki.keyId, "hex") : keyIdentifier(caSpki);
  const info: CaInfo = {
    issuer: Buffer.from(ca.subjectName.toArrayBuffer()),
    spki: caSpki,
    aki: extension(OID_AUTHORITY_KEY_ID, false, der.seq(der.tlv(0x80, keyId))),
  };
  if (caInfos.size >= MAX_CA_INFOS) caInfos.clear();
  caInfos.set(caCert, info);
  return info;
}

const keySpkis = new WeakMap<KeyObject, Buffer>();

function spkiDer(key: KeyObject): Buffer {
  let d = keySpkis.get(key);
  if (!d) {
    d = Buffer.from(spki(key));
    keySpkis.set(key, d);
  }
  return d;
}

/** RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits. */
function keyIdentifier(spkiBytes: Buffer): Buffer {
  const top = der.readTlv(spkiBytes, 0);
  const bits = der.children(spkiBytes, top)[1];
  if (top.tag !== 0x30 || bits?.tag !== 0x03 || bits.end - bits.body < 1) throw badParameter("malformed public key");
  return crypto
    .createHash("sha1")
    .update(spkiBytes.subarray(bits.body + 1, bits.end))
    .digest();
}

const OID_BASIC_CONSTRAINTS = "2.5.29.19";
const OID_KEY_USAGE = "2.5.29.15";
const OID_EXT_KEY_USAGE = "2.5.29.37";
const OID_SUBJECT_KEY_ID = "2.5.29.14";
const OID_AUTHORITY_KEY_ID = "2.5.29.35";
const OID_SUBJECT_ALT_NAME = "2.5.29.17";
const SIG_ECDSA_SHA256 = der.seq(der.oid("1.2.840.10045.4.3.2"));
const SIG_ED25519 = der.seq(der.oid("1.3.101.112"));
const USAGE_OIDS: Record<Usage, string> = { serverAuth: "1.3.6.1.5.5.7.3.1", clientAuth: "1.3.6.1.5.5.7.3.2" };
/** Name attribute types the identity format and server certificates use. */
const NAME_OIDS: Record<string, string> = { CN: "2.5.4.3", O: "2.5.4.10", L: "2.5.4.7", OU: "2.5.4.11", C: "2.5.4.6", ST: "2.5.4.8" };
const V3 = der.explicit(0, der.unsignedInteger(Buffer.from([2])));

type Usage = "serverAuth" | "clientAuth";

/** Extension ::= SEQUENCE { extnID, critical DEFAULT FALSE, extnValue OCTET STRING } */
function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return critical ? der.seq(der.oid(id), der.boolean(true), der.octetString(value)) : der.seq(der.oid(id), der.octetString(value));
}

// Fixed for every leaf: basicConstraints (critical, not a CA) and keyUsage (critical, digitalSignature).
const EXT_NOT_A_CA = extension(OID_BASIC_CONSTRAINTS, true, der.seq());
const EXT_DIGITAL_SIGNATURE = extension(OID_KEY_USAGE, true, der.tlv(0x03, Buffer.from([0x07, 0x80])));

/** A distinguished name, every value a UTF8String taken literally; one RDN per entry. */
function encodeName(entries: ReadonlyArray<Record<string, readonly string[]>>): Buffer {
  return der.seq(
    ...entries.map((e) => {
      const atvs: Buffer[] = [];
      for (const [type, values] of Object.entries(e)) {
        const id = NAME_OIDS[type];
        if (id === undefined) throw badParameter(`unsupported name attribute ${JSON.stringify(type)}`);
        for (const v of values) atvs.push(der.seq(der.oid(id), der.utf8String(v)));
      }
      return der.set(...atvs);
    }),
  );
}

/** An iPAddress SAN: 4 bytes for IPv4, 16 for IPv6 (embedded IPv4 allowed; zone ids are not addresses). */
function ipBytes(ip: string): Buffer {
  if (net.isIPv4(ip)) return Buffer.from(ip.split(".").map(Number));
  if (!net.isIPv6(ip) || ip.includes("%")) throw badParameter(`invalid IP address ${JSON.stringify(ip)}`);
  let text = ip;
  let tail: number[] = [];
  const m = /^(.*:)(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (m) {
    const [a, b, c, d] = [m[2], m[3], m[4], m[5]].map(Number) as [number, number, number, number];
    tail = [(a << 8) | b, (c << 8) | d];
    text = m[1] ?? "";
    if (!text.endsWith("::")) text = text.slice(0, -1);
  }
  const halves = text.split("::");
  const groups = (p: string | undefined) => (p === undefined || p === "" ? [] : p.split(":").map((g) => Number.parseInt(g, 16)));
  const left = groups(halves[0]);
  const right = groups(halves[1]);
  const zeros = new Array<number>(Math.max(0, 8 - left.length - right.length - tail.length)).fill(0);
  const words = halves.length === 2 ? [...left, ...zeros, ...right, ...tail] : [...left, ...tail];
  if (halves.length > 2 || words.length !== 8 || words.some((w) => !(w >= 0 && w <= 0xffff))) {
    throw badParameter(`invalid IP address ${JSON.stringify(ip)}`);
  }
  const out = Buffer.alloc(16);
  for (let i = 0; i < 8; i++) out.writeUInt16BE(words[i] ?? 0, i * 2);
  return out;
}

function pem(derBytes: Buffer): string {
  const b64 = derBytes.toString("base64");
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 64) lines.push(b64.slice(i, i + 64));
  return `-----BEGIN CERTIFICATE-----\n${lines.join("\n")}\n-----END CERTIFICATE-----`;
}

/**
 * Writes and signs the certificate directly in DER (the same bytes
 * `@peculiar/x509` would produce, checked in issue.test.ts), with `node:crypto`
 * signing: that library's ASN.1 layer cost milliseconds per certificate.
 */
async function issue(
  req: IssueCommon,
  subject: Array<Record<string, string[]>>,
  identity: Identity | undefined,
  usages: Usage[],
  sans: Array<{ type: "dns" | "ip"; value: string }>,
): Promise<string> {
  if (!Number.isFinite(req.ttlMs) || req.ttlMs <= 0) throw badParameter("certificate TTL must be positive");
  const subjectSpki = (req.publicKey instanceof SubjectPublicKey ? req.publicKey : SubjectPublicKey.fromKeyObject(req.publicKey)).spki;
  if (req.caKey.type !== "private") throw badParameter("expected a private key");
  const ca = caInfo(req.caCert);
  if (!spkiDer(req.caKey).equals(ca.spki)) throw badParameter("CA key does not match the CA certificate");
  const algorithm = signatureAlgorithm(req.caKey);
  const now = req.clock.now().getTime();
  const notAfter = new Date(now + req.ttlMs);
  const extensions: Buffer[] = [
    EXT_NOT_A_CA,
    EXT_DIGITAL_SIGNATURE,
    extension(OID_EXT_KEY_USAGE, false, der.seq(...usages.map((u) => der.oid(USAGE_OIDS[u])))),
    extension(OID_SUBJECT_KEY_ID, false, der.octetString(keyIdentifier(subjectSpki))),
    ca.aki,
  ];
  if (sans.length > 0) {
    const names = sans.map((n) => (n.type === "dns" ? der.tlv(0x82, Buffer.from(n.value, "latin1")) : der.tlv(0x87, ipBytes(n.value))));
    extensions.push(extension(OID_SUBJECT_ALT_NAME, false, der.seq(...names)));
  }
  if (identity) {
    const enc = encodeIdentity({ ...identity, expires: notAfter });
    extensions.push(extension(enc.extension.oid, enc.extension.critical, enc.extension.value));
    subject = enc.subject;
  }
  const sigAlg = algorithm === "ed25519" ? SIG_ED25519 : SIG_ECDSA_SHA256;
  const tbs = der.seq(
    V3,
    der.unsignedInteger(serialNumber()),
    sigAlg,
    ca.issuer,
    der.seq(der.time(new Date(now - X509_BACKDATE_MS)), der.time(notAfter)),
    encodeName(subject),
    subjectSpki,
    der.explicit(3, der.seq(...extensions)),
  );
  const signature = await signOffThread(algorithm === "ed25519" ? null : "sha256", tbs, req.caKey);
  return pem(der.seq(tbs, sigAlg, der.bitString(signature)));
}

/**
 * Signs on libuv's thread pool (crypto.sign with a callback), so that the
 * event loop keeps serving calls while the CA key signs.
 */
function signOffThread(hash: string | null, data: Buffer, key: KeyObject): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    crypto.sign(hash, data, key, (err, sig) => (err ? reject(err) : resolve(sig)));
  });
}

let randomPool = Buffer.alloc(0);
let randomAt = 0;

/** A positive 16-byte serial number (RFC 5280), from a pool of CSPRNG bytes refilled 4 KiB at a time. */
function serialNumber(): Buffer {
  if (randomAt + 16 > randomPool.length) {
    randomPool = crypto.randomFillSync(Buffer.allocUnsafe(4096));
    randomAt = 0;
  }
  const b = Buffer.from(randomPool.subarray(randomAt, randomAt + 16));
  randomAt += 16;
  b[0] = ((b[0] ?? 0) & 0x3f) | 0x40;
  return b;
}

function signatureAlgorithm(key: KeyObject): "ecdsa-p256" | "ed25519" {
  if (key.asymmetricKeyType === "ec" && key.asymmetricKeyDetails?.namedCurve === "prime256v1") return "ecdsa-p256";
  if (key.asymmetricKeyType === "ed25519") return "ed25519";
  throw badParameter("CA keys must be ECDSA P-256 or Ed25519");
}

/** A client certificate (clientAuth) for a user or bot, signed by the user CA. Returns PEM. */
export function issueClientCertificate(req: ClientCertificateRequest): Promise<string> {
  return issue(req, [], req.identity, ["clientAuth"], []);
}

/** A server certificate (serverAuth + clientAuth) with SANs, signed by the host CA. Returns PEM. */
export function issueServerCertificate(req: ServerCertificateRequest): Promise<string> {
  if (req.identity === undefined && req.commonName === "") throw badParameter("server certificate needs a common name");
  const sans: Array<{ type: "dns" | "ip"; value: string }> = [];
  for (const d of new Set(req.dnsNames)) {
    if (d === "" || /[\s,]/.test(d)) throw badParameter(`invalid DNS name ${JSON.stringify(d)}`);
    sans.push({ type: "dns", value: d });
  }
  for (const ip of new Set(req.ipAddresses)) {
    if (net.isIP(ip) === 0) throw badParameter(`invalid IP address ${JSON.stringify(ip)}`);
    sans.push({ type: "ip", value: ip });
  }
  return issue(req, [{ CN: [req.commonName] }], req.identity, ["serverAuth", "clientAuth"], sans);
}
