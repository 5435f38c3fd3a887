/**
 * The crypto module's public surface: keys, OpenSSH certificates and X.509 identity
 * certificates. Other modules import from here only.
 */

export * from "./jwt/index.ts";
export {
  generateEcdsaP256,
  generateEd25519,
  type KeyPair,
  parseSshPublicKey,
  privateKeyFromPem,
  privateKeyToPem,
  publicKeyFromPem,
  publicKeysEqual,
  publicKeyToPem,
  SSH_ECDSA_P256,
  SSH_ED25519,
  type SshKeyAlgorithm,
  sshFingerprint,
  sshKeyAlgorithm,
  sshPublicKeyBlob,
  sshPublicKeyLine,
  toPublicKey,
} from "./keys.ts";
export { generateKeySet, type KeySet } from "./keyset.ts";
export { parseOpenSshPrivateKey, writeOpenSshPrivateKey } from "./openssh-key.ts";
export * from "./sshcert/index.ts";
export * from "./x509/index.ts";
