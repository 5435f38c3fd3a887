/** What jsh, jctl and jbot share: profiles, login, the admin connection, output. */
export { type AuthClient, type AuthClientOptions, type ClientTlsIdentity, createAuthClient } from "../../api/authclient.ts";
export { type AdminConnection, type AdminConnectOptions, connectAdmin } from "./admin.ts";
export {
  type AppCert,
  type AppCertPaths,
  type AppInfo,
  type AppLoginOptions,
  appCertPaths,
  appLogin,
  appsFromServers,
  appType,
  findAppCert,
  listAppCerts,
  listApps,
  loadAppCert,
  removeAppCerts,
} from "./appcerts.ts";
export { dialApp, type LocalAppProxy, type LocalAppProxyOptions, refusalReason, startLocalAppProxy } from "./appproxy.ts";
export {
  type DatabaseInfo,
  type DbCert,
  type DbCertPaths,
  type DbLoginOptions,
  dbCertPaths,
  dbLogin,
  findDbCert,
  listDatabases,
  listDbCerts,
  loadDbCert,
  removeDbCerts,
} from "./dbcerts.ts";
export { dialDatabase, type LocalDbProxy, type LocalDbProxyOptions, startLocalDbProxy } from "./dbproxy.ts";
export { writePrivate } from "./files.ts";
export { formatIdentityFile, type Identity, parseIdentityFile } from "./identityfile.ts";
export {
  type KubeCertPaths,
  type KubeClusterInfo,
  type KubeLogin,
  type KubeLoginOptions,
  kubeCertDir,
  kubeCertPaths,
  kubeClustersFromServers,
  kubeLogin,
  kubeLogout,
  listKubeCerts,
  listKubeClusters,
  selectedKubeCluster,
} from "./kubecerts.ts";
export {
  currentKubeContext,
  type KubeconfigEntry,
  kubeContextName,
  kubeconfigEntryNames,
  kubeconfigPath,
  mergeKubeconfig,
  readKubeconfig,
  removeFromKubeconfig,
  writeKubeconfig,
} from "./kubeconfig.ts";
export { type LoginResponse, login, type PingResponse, ping } from "./login.ts";
export { type Format, formatDate, parseFormat, render, table } from "./output.ts";
export { currentProfile, jshHome, keyPaths, loadCredentials, type Profile, removeProfile, saveProfile } from "./profile.ts";
export { ask } from "./prompt.ts";
export { type DialReuse, dialProxyRoute, newDialReuse, type ProxyRouteDial, type RouteCredentials, splitHostPort } from "./proxydial.ts";
export { connectNode, connectProxy, openRoute, type SshTarget } from "./sshclient.ts";
export { userAuthClient } from "./userclient.ts";
export { type WebClientOptions, webCall } from "./webclient.ts";
