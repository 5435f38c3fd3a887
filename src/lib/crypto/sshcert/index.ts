/** OpenSSH certificates: encode, parse, sign, verify. */
export {
  encodeCertificateBody,
  FOREVER,
  formatCertificateLine,
  parseCertificate,
  type SshCertAlgorithm,
  type SshCertificate,
  type SshCertificateBody,
  type SshCertType,
} from "./codec.ts";
export {
  EXT_ACTIVE_REQUESTS,
  EXT_AUTHORITY,
  EXT_HOST_ROLE,
  EXT_PERMIT_AGENT_FORWARDING,
  EXT_PERMIT_PORT_FORWARDING,
  EXT_PERMIT_PTY,
  EXT_PERMIT_X11_FORWARDING,
  EXT_ROLES,
  EXT_ROUTE_TO_CLUSTER,
  EXT_TRAITS,
  type HostCertExtensions,
  OPT_SOURCE_ADDRESS,
  readHostCertExtensions,
  readUserCertExtensions,
  type UserCertExtensions,
} from "./extensions.ts";
export { knownHostsCaLine, trustedUserCaKeysLine } from "./lines.ts";
export {
  BACKDATE_MS,
  type HostCertificateRequest,
  type SubjectKey,
  signCertificate,
  signHostCertificate,
  signSshData,
  signUserCertificate,
  type UserCertificateRequest,
} from "./sign.ts";
export { sourceAddressAllowed } from "./source-address.ts";
export { type VerifyCertificateOptions, verifyCertificate, verifySshSignature } from "./verify.ts";
