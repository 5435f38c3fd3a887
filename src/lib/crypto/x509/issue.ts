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
import { type Identity, encodeIdentity } from "./identity.ts";
import { randomSerial, spki, toName, toSigningKey, toX509, x509 } from "./provider.ts";

interface IssueCommon {
  /** The CA certificate (PEM). */
  caCert: string;
  caKey: KeyObject;
  /** The subject's public key. */
  publicKey: KeyObject;
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

async function issue(
  req: IssueCommon,
  subject: Array<Record<string, string[]>>,
  identity: Identity | undefined,
  usages: x509.ExtendedKeyUsage[],
  sans: Array<{ type: "dns" | "ip"; value: string }>,
): Promise<string> {
  if (!Number.isFinite(req.ttlMs) || req.ttlMs <= 0) throw badParameter("certificate TTL must be positive");
  if (req.publicKey.type !== "public" && req.publicKey.type !== "private") throw badParameter("expected a public key");
  const ca = toX509(req.caCert);
  const signer = await toSigningKey(req.caKey);
  const caPub = crypto.createPublicKey(req.caKey).export({ format: "der", type: "spki" });
  if (!Buffer.from(ca.publicKey.rawData).equals(caPub)) throw badParameter("CA key does not match the CA certificate");
  const now = req.clock.now().getTime();
  const notAfter = new Date(now + req.ttlMs);
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension(usages, false),
    await x509.SubjectKeyIdentifierExtension.create(spki(req.publicKey)),
  ];
  const caSki = ca.getExtension(x509.SubjectKeyIdentifierExtension);
  extensions.push(caSki ? new x509.AuthorityKeyIdentifierExtension(caSki.keyId) : await x509.AuthorityKeyIdentifierExtension.create(new Uint8Array(caPub)));
  if (sans.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(sans, false));
  if (identity) {
    const enc = encodeIdentity({ ...identity, expires: notAfter });
    extensions.push(new x509.Extension(enc.extension.oid, enc.extension.critical, new Uint8Array(enc.extension.value)));
    subject = enc.subject;
  }
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: toName(subject),
    issuer: ca.subjectName,
    notBefore: new Date(now - X509_BACKDATE_MS),
    notAfter,
    signingAlgorithm: signer.algorithm,
    publicKey: spki(req.publicKey),
    signingKey: signer.key,
    extensions,
  });
  return cert.toString("pem");
}

/** A client certificate (clientAuth) for a user or bot, signed by the user CA. Returns PEM. */
export function issueClientCertificate(req: ClientCertificateRequest): Promise<string> {
  return issue(req, [], req.identity, [x509.ExtendedKeyUsage.clientAuth], []);
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
  return issue(req, [{ CN: [req.commonName] }], req.identity, [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth], sans);
}
