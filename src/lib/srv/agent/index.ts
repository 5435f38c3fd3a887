/** What every agent service shares: announcing itself, command labels, and audit events that survive disconnects. */
export { type AgentEvent, AuditQueue } from "./auditqueue.ts";
export { type CommandLabelSpec, type CommandLabelState, CommandLabels } from "./cmdlabels.ts";
export { HEARTBEAT_INTERVAL_MS, HEARTBEAT_TTL_MS, Heartbeat } from "./heartbeat.ts";
