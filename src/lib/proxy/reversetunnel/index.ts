/** The proxy side of reverse tunnels (DESIGN §5). */
export { type AgentInfo, type AgentRefusal, TunnelServer, type TunnelServerOptions } from "./server.ts";
