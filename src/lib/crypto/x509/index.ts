/** X.509: CAs, identity certificates, and the identity format. */
export {
  type CertificateAuthority,
  type ChainValidity,
  type CreateCaOptions,
  certFingerprint,
  checkValidity,
  createCa,
  verifyChain,
  X509_BACKDATE_MS,
} from "./ca.ts";
export {
  decodeIdentity,
  type EncodedIdentity,
  encodeIdentity,
  IDENTITY_OID,
  type Identity,
  type IdentityKind,
  type RouteToApp,
  type RouteToDatabase,
  type SubjectEntries,
} from "./identity.ts";
export { type ClientCertificateRequest, issueClientCertificate, issueServerCertificate, type ServerCertificateRequest } from "./issue.ts";
export { SubjectPublicKey } from "./pubkey.ts";
export { VerifiedIdentityCache } from "./verified.ts";
