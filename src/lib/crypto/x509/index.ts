/** X.509: CAs, identity certificates, and the identity format. */
export { type CertificateAuthority, type ChainValidity, type CreateCaOptions, X509_BACKDATE_MS, certFingerprint, checkValidity, createCa, verifyChain } from "./ca.ts";
export {
  type EncodedIdentity,
  IDENTITY_OID,
  type Identity,
  type IdentityKind,
  type RouteToApp,
  type RouteToDatabase,
  type SubjectEntries,
  decodeIdentity,
  encodeIdentity,
} from "./identity.ts";
export { type ClientCertificateRequest, type ServerCertificateRequest, issueClientCertificate, issueServerCertificate } from "./issue.ts";
export { SubjectPublicKey } from "./pubkey.ts";
export { VerifiedIdentityCache } from "./verified.ts";
