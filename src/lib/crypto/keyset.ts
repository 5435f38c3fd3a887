import { generateEcdsaP256, generateEd25519, type KeyPair, sshPublicKeyLine } from "./keys.ts";

/** The two keys every identity holds: Ed25519 for SSH, ECDSA P-256 for X.509 (DESIGN §2). */
export interface KeySet {
  ssh: KeyPair;
  tls: KeyPair;
  /** OpenSSH public key line. */
  sshPublicKey: string;
  /** PEM (SPKI) public key. */
  tlsPublicKey: string;
}

export function generateKeySet(): KeySet {
  const ssh = generateEd25519();
  const tls = generateEcdsaP256();
  return {
    ssh,
    tls,
    sshPublicKey: sshPublicKeyLine(ssh.publicKey),
    tlsPublicKey: tls.publicKey.export({ format: "pem", type: "spki" }).toString(),
  };
}
