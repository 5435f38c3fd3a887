/**
 * OpenSSH's private key file, `openssh-key-v1` (PROTOCOL.key), unencrypted:
 *
 *   "openssh-key-v1\0" string cipher("none") string kdf("none") string kdfopts("")
 *   uint32 1  string publickey  string private-section
 *   private-section = uint32 check, uint32 check, key fields, string comment, padding 1,2,3.. to 8
 *   ed25519 fields: string "ssh-ed25519", string pk(32), string sk(32)||pk(32)
 *   ecdsa fields:   string "ecdsa-sha2-nistp256", string "nistp256", string Q, mpint d
 */
import crypto, { type KeyObject } from "node:crypto";
import { badParameter } from "../../api/errors.ts";
import {
  isSshKeyAlgorithm,
  parseSshPublicKeyBlob,
  rawPrivateKey,
  rawPublicKey,
  readPublicKeyFields,
  SSH_ED25519,
  sshKeyAlgorithm,
  sshPublicKeyBlob,
  writePublicKeyFields,
} from "./keys.ts";
import { mpint, padTo, str, u32, WireReader } from "./wire.ts";

const MAGIC = Buffer.from("openssh-key-v1\0", "latin1");
const BEGIN = "-----BEGIN OPENSSH PRIVATE KEY-----";
const END = "-----END OPENSSH PRIVATE KEY-----";
const BLOCK = 8;

/** Serializes an Ed25519 or P-256 private key as an unencrypted OpenSSH key file (PEM-armored text). */
export function writeOpenSshPrivateKey(privateKey: KeyObject, comment = ""): string {
  const alg = sshKeyAlgorithm(privateKey);
  if (privateKey.type !== "private") throw badParameter("expected a private key");
  const pub = rawPublicKey(privateKey);
  const secret = rawPrivateKey(privateKey);
  const keyFields =
    alg === SSH_ED25519 ? Buffer.concat([str(pub), str(Buffer.concat([secret, pub]))]) : Buffer.concat([writePublicKeyFields(privateKey), mpint(secret)]);
  const check = crypto.randomBytes(4);
  let section = Buffer.concat([check, check, str(alg), keyFields, str(comment)]);
  const padLen = (BLOCK - (section.length % BLOCK)) % BLOCK;
  section = Buffer.concat([section, Buffer.from(Array.from({ length: padLen }, (_, i) => i + 1))]);
  const body = Buffer.concat([MAGIC, str("none"), str("none"), str(""), u32(1), str(sshPublicKeyBlob(privateKey)), str(section)]);
  const b64 = body.toString("base64").replace(/.{1,70}/g, "$&\n");
  return `${BEGIN}\n${b64}${END}\n`;
}

function privateFromJwk(alg: string, pub: Buffer, secret: Buffer): KeyObject {
  const d = secret.toString("base64url");
  try {
    if (alg === SSH_ED25519) {
      return crypto.createPrivateKey({ key: { kty: "OKP", crv: "Ed25519", x: pub.toString("base64url"), d }, format: "jwk" });
    }
    const x = pub.subarray(1, 33).toString("base64url");
    const y = pub.subarray(33).toString("base64url");
    return crypto.createPrivateKey({ key: { kty: "EC", crv: "P-256", x, y, d }, format: "jwk" });
  } catch {
    throw badParameter("malformed OpenSSH private key: invalid key material");
  }
}

/** Proves the private key belongs to the public key by signing (JWK import does not check it). */
function halvesMatch(privateKey: KeyObject, publicKey: KeyObject): boolean {
  const probe = Buffer.from("jumpgate key check");
  const hash = sshKeyAlgorithm(publicKey) === SSH_ED25519 ? null : "sha256";
  try {
    return crypto.verify(hash, probe, publicKey, crypto.sign(hash, probe, privateKey));
  } catch {
    return false;
  }
}

/** Parses an unencrypted OpenSSH private key file (the text `writeOpenSshPrivateKey` or ssh-keygen writes). */
export function parseOpenSshPrivateKey(text: string | Buffer): { privateKey: KeyObject; publicKey: KeyObject; comment: string } {
  const s = typeof text === "string" ? text : text.toString("utf8");
  const start = s.indexOf(BEGIN);
  const stop = s.indexOf(END);
  if (start < 0 || stop < start) throw badParameter("not an OpenSSH private key");
  const b64 = s.slice(start + BEGIN.length, stop).replace(/\s+/g, "");
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) throw badParameter("malformed OpenSSH private key: bad base64");
  const body = Buffer.from(b64, "base64");
  if (body.length < MAGIC.length || !body.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw badParameter("malformed OpenSSH private key: bad magic");
  }
  const r = new WireReader(body.subarray(MAGIC.length), "OpenSSH private key");
  const cipher = r.bytes().toString("latin1");
  const kdf = r.bytes().toString("latin1");
  r.bytes(); // kdf options
  if (cipher !== "none" || kdf !== "none") throw badParameter("encrypted OpenSSH private keys are not supported");
  if (r.uint32() !== 1) throw badParameter("OpenSSH private key files with several keys are not supported");
  const publicKey = parseSshPublicKeyBlob(r.bytes());
  const section = r.bytes();
  r.end();
  if (section.length % BLOCK !== 0) throw badParameter("malformed OpenSSH private key: bad padding");

  const p = new WireReader(section, "OpenSSH private key");
  const check1 = p.uint32();
  const check2 = p.uint32();
  if (check1 !== check2) throw badParameter("malformed OpenSSH private key: check bytes differ (encrypted?)");
  const alg = p.bytes().toString("latin1");
  if (!isSshKeyAlgorithm(alg)) throw badParameter(`unsupported OpenSSH private key type ${JSON.stringify(alg.slice(0, 64))}`);
  let privateKey: KeyObject;
  if (alg === SSH_ED25519) {
    const pub = p.bytes();
    const both = p.bytes();
    if (pub.length !== 32 || both.length !== 64 || !both.subarray(32).equals(pub)) {
      throw badParameter("malformed OpenSSH private key: inconsistent Ed25519 key");
    }
    privateKey = privateFromJwk(alg, pub, both.subarray(0, 32));
  } else {
    const pubKey = readPublicKeyFields(alg, p);
    const secret = padTo(p.unsignedMpint(), 32);
    privateKey = privateFromJwk(alg, rawPublicKey(pubKey), secret);
  }
  const comment = p.text();
  const pad = section.subarray(p.position);
  if (pad.length >= BLOCK || !pad.every((b, i) => b === i + 1)) throw badParameter("malformed OpenSSH private key: bad padding");
  if (!halvesMatch(privateKey, publicKey)) {
    throw badParameter("malformed OpenSSH private key: private and public halves do not match");
  }
  return { privateKey, publicKey, comment };
}
