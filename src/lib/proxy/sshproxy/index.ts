/** The proxy's SSH routing: `ssh -J` and the `proxy:HOST:PORT` subsystem (DESIGN §5). */
export { dialTcp, type NodeDialer, type ResolvedNode, type TunnelDialer, tunnelOrDirectDialer } from "./dialer.ts";
export {
  type ForwardDecision,
  type ForwardedConn,
  Forwarder,
  type ForwarderOptions,
  type ForwardPlan,
  type ForwardPolicy,
} from "./forward.ts";
export type { SessionTracking } from "./forward-session.ts";
export { planRoute } from "./plan.ts";
export { ProxySshServer, type ProxySshServerOptions, type ProxyUser, type RouteDecision } from "./server.ts";
export { hostCandidates, parseProxySubsystem, type RouteTarget } from "./target.ts";
