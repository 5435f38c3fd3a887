import { createPrivateKey, createPublicKey, type KeyObject, X509Certificate } from "node:crypto";
import { badParameter } from "../../api/errors.ts";

/**
 * An identity: an SSH key with its certificate, an X.509 key with its
 * certificate, and the CAs to trust. As one PEM file (DESIGN §9) it is what
 * `jctl auth sign --format identity`, the daemon's admin identity and `jsh -i` use.
 */
export interface Identity {
  sshKey: KeyObject;
  sshCert: string;
  tlsKey: KeyObject;
  tlsCert: string;
  /** CAs that verify the servers this identity talks to (the host CA). */
  tlsCas: string[];
  /** `@cert-authority` lines for known_hosts. */
  knownHosts: string[];
}

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;

export function formatIdentityFile(id: Identity): string {
  const pem = (k: KeyObject) => k.export({ format: "pem", type: "pkcs8" }).toString();
  return [
    pem(id.sshKey).trim(),
    pem(id.tlsKey).trim(),
    id.sshCert.trim(),
    id.tlsCert.trim(),
    ...id.tlsCas.map((c) => c.trim()),
    ...id.knownHosts.map((l) => l.trim()),
    "",
  ].join("\n");
}

export function parseIdentityFile(text: string, source = "identity file"): Identity {
  let sshKey: KeyObject | undefined;
  let tlsKey: KeyObject | undefined;
  const certs: string[] = [];
  for (const m of text.matchAll(BLOCK)) {
    const [block, label] = m;
    if (label === "PRIVATE KEY") {
      let k: KeyObject;
      try {
        k = createPrivateKey(block);
      } catch {
        throw badParameter(`${source}: a private key block is not valid`);
      }
      if (k.asymmetricKeyType === "ed25519") sshKey = k;
      else tlsKey = k;
    } else if (label === "CERTIFICATE") {
      certs.push(block);
    }
  }
  const rest = text
    .replace(BLOCK, "")
    .split("\n")
    .map((l) => l.trim());
  const sshCert = rest.find((l) => /^[a-z0-9-]+-cert-v01@openssh\.com /.test(l));
  const knownHosts = rest.filter((l) => l.startsWith("@cert-authority "));
  if (!sshKey || !tlsKey || !sshCert || certs.length === 0) {
    throw badParameter(`${source} is not a Jumpgate identity file (it needs two keys, an SSH and an X.509 certificate)`);
  }
  const tlsPub = createPublicKey(tlsKey).export({ format: "der", type: "spki" });
  const own = certs.find((c) => {
    try {
      return new X509Certificate(c).publicKey.export({ format: "der", type: "spki" }).equals(tlsPub);
    } catch {
      return false;
    }
  });
  if (!own) throw badParameter(`${source}: no X.509 certificate matches its key`);
  return { sshKey, sshCert, tlsKey, tlsCert: own, tlsCas: certs.filter((c) => c !== own), knownHosts };
}
