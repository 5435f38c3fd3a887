/** What every agent service shares: announcing itself, command labels, audit events that survive disconnects, and reading the proxy's stream header. */
export { type AgentEvent, AuditQueue } from "./auditqueue.ts";
export { type CommandLabelSpec, type CommandLabelState, CommandLabels } from "./cmdlabels.ts";
export { readStreamHeader, type StreamHeaderKind } from "./header.ts";
export { HEARTBEAT_INTERVAL_MS, HEARTBEAT_TTL_MS, Heartbeat } from "./heartbeat.ts";
