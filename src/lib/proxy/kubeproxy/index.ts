/** The proxy's Kubernetes access (DESIGN §5, docs/kubernetes-access.md): kubectl at `kube.<proxy host>`, routed to a Kubernetes Service. */
export { type KubeRoutes, type KubeServerRoute, noKubeServiceMessage, openKubeStream } from "./dialer.ts";
export { KubeProxy, type KubeProxyOptions, type KubeRefusal } from "./server.ts";
export { type KubeRefusalCode, kubeStatus, kubeStatusResponse, scanRequestHead, statusReason } from "./status.ts";
