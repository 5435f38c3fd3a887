import { X509Certificate } from "node:crypto";
import type tls from "node:tls";

/**
 * The chain a TLS client presented, as PEM for a stream header, leaf first.
 * Self-signed roots are left out: the agent service has its own trust anchors.
 */
export function peerChainPem(s: tls.TLSSocket, leaf: X509Certificate): string {
  const pems = [leaf.toString()];
  let c = s.getPeerCertificate(true) as tls.DetailedPeerCertificate | undefined;
  const seen = new Set<string>([leaf.fingerprint256]);
  while (c?.issuerCertificate && !seen.has(c.issuerCertificate.fingerprint256)) {
    c = c.issuerCertificate;
    seen.add(c.fingerprint256);
    try {
      const x = new X509Certificate(c.raw);
      if (x.issuer !== x.subject) pems.push(x.toString());
    } catch {
      break;
    }
  }
  return pems.join("");
}
