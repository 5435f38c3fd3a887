/** The agent side of reverse tunnels (DESIGN §5). Import this folder only through this file. */
export { type DialInfo, ReverseTunnelAgent, type ReverseTunnelAgentEvents, type ReverseTunnelAgentOptions } from "./agent.ts";
export { Backoff, type BackoffOptions, backoffCeiling, backoffDelay, DEFAULT_BACKOFF } from "./backoff.ts";
