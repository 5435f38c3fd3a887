/** The proxy's SSH routing: `ssh -J` and the `proxy:HOST:PORT` subsystem (DESIGN §5). */
export { dialTcp, type NodeDialer, type ResolvedNode, type TunnelDialer, tunnelOrDirectDialer } from "./dialer.ts";
export { type ProxySshServerOptions, type ProxyUser, ProxySshServer, type RouteDecision } from "./server.ts";
export { hostCandidates, parseProxySubsystem, type RouteTarget } from "./target.ts";
