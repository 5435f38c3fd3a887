import type { KeyObject } from "node:crypto";
import ssh2, { type ParsedKey } from "ssh2";
import { badParameter } from "../../api/errors.ts";
import { parseCertificate, writeOpenSshPrivateKey } from "../crypto/index.ts";

/**
 * An ssh2 key that presents an OpenSSH certificate in publickey
 * authentication. ssh2 cannot do this by itself; patches/ssh2+*.patch teaches
 * its client to send `jgCert` instead of the bare key and to sign with the
 * key's own algorithm. Use it through `authHandler: [{type: "publickey", username, key}]`.
 */
export function certificateKey(privateKey: KeyObject, certLine: string): ParsedKey {
  const parsed = ssh2.utils.parseKey(writeOpenSshPrivateKey(privateKey));
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key || key instanceof Error) throw badParameter("the private key cannot be used for SSH");
  const cert = parseCertificate(certLine);
  Object.assign(key, { __jumpgateCertificate: { type: cert.algorithm, blob: cert.blob } });
  return key;
}
