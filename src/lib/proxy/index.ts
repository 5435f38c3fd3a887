export { AppProxy, type AppProxyOptions, type AppRefusal, type AppServerRoute, publicAddrIndex } from "./appproxy/index.ts";
export { DbProxy, type DbProxyOptions, type DbRefusal, type DbServerRoute } from "./dbproxy/index.ts";
export { KubeProxy, type KubeProxyOptions, type KubeRefusal, type KubeServerRoute } from "./kubeproxy/index.ts";
export { type CertSniOptions, classifyFirstBytes, type ConnHandler, type ConnInfo, Multiplexer, type RouteTls } from "./mux.ts";
export { type AgentInfo, type AgentRefusal, TunnelServer, type TunnelServerOptions } from "./reversetunnel/index.ts";
export { type RelayOptions, relay } from "./relay.ts";
export { type ProxyOptions, type ProxyService, startProxy } from "./service.ts";
export {
  dialTcp,
  type ForwardDecision,
  Forwarder,
  type ForwardPlan,
  type ForwardPolicy,
  hostCandidates,
  planRoute,
  type SessionTracking,
  type NodeDialer,
  type ProxySshServerOptions,
  type ProxyUser,
  ProxySshServer,
  parseProxySubsystem,
  type ResolvedNode,
  type RouteDecision,
  type RouteTarget,
  type TunnelDialer,
  tunnelOrDirectDialer,
} from "./sshproxy/index.ts";
