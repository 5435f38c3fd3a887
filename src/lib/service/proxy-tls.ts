import { X509Certificate } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { isIP } from "node:net";
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
  const isIp = (n: string) => isIP(n) !== 0 || /^[\d.:]+$/.test(n);
  const hosts = [...new Set(["localhost", hostname().toLowerCase(), ...names.map((n) => n.toLowerCase()).filter((n) => !isIp(n))])];
  // Apps live at NAME.<proxy host> (Chromium sends *.localhost to loopback): one wildcard per name.
  const dnsNames = [...hosts, ...hosts.map((h) => `*.${h}`)];
  const ipAddresses = [...new Set(["127.0.0.1", "::1", ...names.filter(isIp)])];
  if (existsSync(certPath) && existsSync(keyPath)) {
    const cert = readFileSync(certPath, "utf8");
    // A pair from before app access (no wildcards) or for other names is made again.
    if (coversNames(cert, dnsNames)) return { cert, key: readFileSync(keyPath, "utf8"), selfSigned: true };
  }
  const ca = await createCa({ commonName: "Jumpgate self-signed proxy CA", organization: "Jumpgate", clock: systemClock });
  const leafKey = generateEcdsaP256();
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

/** Whether the first certificate in `pem` names every one of `dnsNames` (and is still valid a day from now). */
export function coversNames(pem: string, dnsNames: string[]): boolean {
  let x: X509Certificate;
  try {
    x = new X509Certificate(pem);
  } catch {
    return false;
  }
  if (Date.parse(x.validTo) < Date.now() + 24 * 3600_000) return false;
  const have = new Set(
    (x.subjectAltName ?? "")
      .split(",")
      .map((e) => e.trim())
      .filter((e) => e.startsWith("DNS:"))
      .map((e) => e.slice(4).toLowerCase()),
  );
  return dnsNames.every((n) => have.has(n.toLowerCase()));
}
