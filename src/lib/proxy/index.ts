export { AppProxy, type AppProxyOptions, type AppRefusal, type AppServerRoute, publicAddrIndex } from "./appproxy/index.ts";
export { DbProxy, type DbProxyOptions, type DbRefusal, type DbServerRoute } from "./dbproxy/index.ts";
export { KubeProxy, type KubeProxyOptions, type KubeRefusal, type KubeServerRoute } from "./kubeproxy/index.ts";
export { type CertSniOptions, type ConnHandler, type ConnInfo, classifyFirstBytes, Multiplexer, type RouteTls } from "./mux.ts";
export { type RelayOptions, relay } from "./relay.ts";
export { type AgentInfo, type AgentRefusal, TunnelServer, type TunnelServerOptions } from "./reversetunnel/index.ts";
export { type ProxyOptions, type ProxyService, startProxy } from "./service.ts";
export {
  dialTcp,
  type ForwardDecision,
  Forwarder,
  type ForwardPlan,
  type ForwardPolicy,
  hostCandidates,
  type NodeDialer,
  ProxySshServer,
  type ProxySshServerOptions,
  type ProxyUser,
  parseProxySubsystem,
  planRoute,
  type ResolvedNode,
  type RouteDecision,
  type RouteTarget,
  type SessionTracking,
  type TunnelDialer,
  tunnelOrDirectDialer,
} from "./sshproxy/index.ts";
