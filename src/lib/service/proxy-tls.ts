import { existsSync, readFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { systemClock } from "../../api/clock.ts";
import { badParameter } from "../../api/errors.ts";
import { createCa, generateEcdsaP256, issueServerCertificate } from "../crypto/index.ts";
import { writePrivate } from "./identity.ts";

export interface KeyPairFiles {
  cert: string;
  key: string;
}

/**
 * The proxy's public certificate: the configured key pair, or in demo mode a
 * self-signed one kept in the data dir (clients then need --insecure).
 */
export async function proxyKeyPair(
  dataDir: string,
  configured: { cert_file: string; key_file: string }[],
  names: string[],
): Promise<KeyPairFiles & { selfSigned: boolean }> {
  const first = configured[0];
  if (first) {
    try {
      return { cert: readFileSync(first.cert_file, "utf8"), key: readFileSync(first.key_file, "utf8"), selfSigned: false };
    } catch (e) {
      throw badParameter(`cannot read the proxy's https key pair: ${(e as Error).message}`);
    }
  }
  const certPath = join(dataDir, "proxy", "selfsigned.crt");
  const keyPath = join(dataDir, "proxy", "selfsigned.key");
  if (existsSync(certPath) && existsSync(keyPath)) {
    return { cert: readFileSync(certPath, "utf8"), key: readFileSync(keyPath, "utf8"), selfSigned: true };
  }
  const ca = await createCa({ commonName: "Jumpgate self-signed proxy CA", organization: "Jumpgate", clock: systemClock });
  const leafKey = generateEcdsaP256();
  const dnsNames = [...new Set(["localhost", hostname(), ...names.filter((n) => !/^[\d.:]+$/.test(n))])];
  const ipAddresses = [...new Set(["127.0.0.1", "::1", ...names.filter((n) => /^[\d.:]+$/.test(n))])];
  const leaf = await issueServerCertificate({
    caCert: ca.certPem,
    caKey: ca.privateKey,
    publicKey: leafKey.publicKey,
    commonName: dnsNames[0] ?? "localhost",
    dnsNames,
    ipAddresses,
    ttlMs: 365 * 24 * 3600_000,
    clock: systemClock,
  });
  const cert = `${leaf.trim()}\n${ca.certPem.trim()}\n`;
  const key = leafKey.privateKey.export({ format: "pem", type: "pkcs8" }).toString();
  writePrivate(certPath, cert);
  writePrivate(keyPath, key);
  return { cert, key, selfSigned: true };
}
