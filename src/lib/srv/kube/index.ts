/**
 * The Kubernetes Service (DESIGN §6), agent side: kubeconfig contexts as
 * clusters, Kubernetes API requests parsed and decided against
 * kubernetes_labels/kubernetes_groups/kubernetes_users/kubernetes_resources,
 * forwarded with impersonation, audited, and exec sessions recorded; the
 * proxy's streams accepted and their user certificates checked (server.ts).
 */
export {
  type AuthorizeInput,
  applyImpersonation,
  authorizeKubeRequest,
  describeKubeRequest,
  isClientAuthHeader,
  type KubeClusterTarget,
  type KubeGrant,
  type KubeResourceTarget,
  type KubeUser,
  kubeResourceTarget,
  SYSTEM_AUTHENTICATED,
} from "./access.ts";
export { channelEncoding, K8S_CHANNELS, K8sChannelReader, type WsEvent, WsFrameError, WsFrameParser } from "./codec.ts";
export { KubeAccessError, type KubeStatus, type KubeStatusReason, kubeStatus, sendKubeStatus, writeKubeStatus } from "./errors.ts";
export { type KubeAuditEvent, KubeForwarder, type KubeForwarderOptions, type KubeRequestContext } from "./forwarder.ts";
export { type KubeClusterConfig, type KubeCredentials, type KubeconfigOptions, loadKubeconfig, parseKubeconfig } from "./kubeconfig.ts";
export { isKubeRequestError, KubeRequestError, type KubeRequestInfo, parseKubeRequest, parseKubeRequestUrl } from "./request.ts";
export { KubeService, type KubeServiceOptions } from "./server.ts";
export { type ExecTarget, execTarget } from "./session.ts";
export { KubeUpstream, type KubeUpstreamOptions } from "./upstream.ts";
