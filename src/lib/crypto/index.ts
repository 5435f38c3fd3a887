/**
 * The crypto module's public surface: keys, OpenSSH certificates and X.509 identity
 * certificates. Other modules import from here only.
 */
export {
  type KeyPair,
  type SshKeyAlgorithm,
  SSH_ECDSA_P256,
  SSH_ED25519,
  generateEcdsaP256,
  generateEd25519,
  parseSshPublicKey,
  privateKeyFromPem,
  privateKeyToPem,
  publicKeyFromPem,
  publicKeyToPem,
  publicKeysEqual,
  sshFingerprint,
  sshKeyAlgorithm,
  sshPublicKeyBlob,
  sshPublicKeyLine,
  toPublicKey,
} from "./keys.ts";
export { parseOpenSshPrivateKey, writeOpenSshPrivateKey } from "./openssh-key.ts";
export * from "./sshcert/index.ts";
export * from "./x509/index.ts";
export { generateKeySet, type KeySet } from "./keyset.ts";
export * from "./jwt/index.ts";
