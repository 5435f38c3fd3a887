/** ssh2 helpers shared by the SSH service, the reverse tunnel, the proxy and jsh. */
export { certificateKey } from "./certkey.ts";
export {
  checkHostCertificate,
  expectedNodePrincipals,
  HOST_KEY_ALGORITHMS,
  HOST_KEY_VERIFICATION_FAILED,
  type HostCertCheck,
  HostKeyRefused,
  type HostVerifier,
  hostCertificateVerifier,
  isHostKeyRefused,
} from "./hostcert.ts";
export { type CertificateLoginOptions, loginWithCertificate, openProxyRoute } from "./login.ts";
export { CHANNEL_OPTIONS, type PatchedConnection, patched } from "./patched.ts";
