/**
 * `role` v7 (v5 and v6 accepted), in Teleport's shape so existing role files load.
 * Fields Jumpgate evaluates are typed; a few Teleport fields that only grant access
 * to things Jumpgate does not have (AWS, Azure, host sudoers...) are accepted and
 * ignored; fields whose meaning Jumpgate cannot honour safely (label expressions,
 * moderated-session requirements) are refused with a clear message.
 */
import { z } from "zod";
import {
  bool,
  count,
  duration,
  labelSelector,
  metadata,
  nonEmptyString,
  nonEmptyStringList,
  oneOf,
  positiveDuration,
  str,
  strict,
  stringList,
} from "./schema.ts";

export const ROLE_VERSIONS = ["v5", "v6", "v7"] as const;
export const DEFAULT_MAX_SESSION_TTL = "12h0m0s";

const unsupported = (message: string) => z.never({ error: message }).optional();
const noExpressions = (field: string) => unsupported(`label expressions are not supported; use ${field} with "*", globs or "^regex$" values`);
/** A Teleport field Jumpgate accepts for compatibility and does not evaluate. */
const ignored = z.unknown().optional();

export const kubernetesResource = strict({
  kind: nonEmptyString,
  namespace: str.optional(),
  name: nonEmptyString,
  verbs: stringList.optional(),
  api_group: str.optional(),
});

export const rule = strict({
  resources: nonEmptyStringList,
  verbs: nonEmptyStringList,
  where: str.optional(),
  actions: stringList.optional(),
});

const claimMapping = strict({ claim: nonEmptyString, value: str, roles: stringList });

const threshold = strict({
  name: str.optional(),
  filter: str.optional(),
  approve: count.optional(),
  deny: count.optional(),
});

const accessRequestConditions = strict({
  roles: stringList.optional(),
  claims_to_roles: z.array(claimMapping).optional(),
  search_as_roles: stringList.optional(),
  thresholds: z.array(threshold).optional(),
  suggested_reviewers: stringList.optional(),
  annotations: z.record(str, stringList).optional(),
  max_duration: duration.optional(),
  reason: strict({ mode: oneOf(["optional", "required"]) }).optional(),
  kubernetes_resources: z.array(strict({ kind: nonEmptyString })).optional(),
});

const reviewConditions = strict({
  roles: stringList.optional(),
  claims_to_roles: z.array(claimMapping).optional(),
  where: str.optional(),
  preview_as_roles: stringList.optional(),
});

export const JOIN_MODES = ["observer", "moderator", "peer"] as const;

export const joinPolicy = strict({
  name: nonEmptyString,
  roles: nonEmptyStringList,
  kinds: nonEmptyStringList,
  modes: z.array(oneOf(JOIN_MODES)).min(1, { error: "must list at least one mode" }),
});

const namespaces = z
  .array(str)
  .refine((list) => list.every((n) => n === "default" || n === "*"), {
    error: 'only the "default" namespace exists',
  })
  .optional();

export const roleConditions = strict({
  logins: stringList.optional(),
  node_labels: labelSelector.optional(),
  db_labels: labelSelector.optional(),
  db_names: stringList.optional(),
  db_users: stringList.optional(),
  app_labels: labelSelector.optional(),
  kubernetes_labels: labelSelector.optional(),
  kubernetes_groups: stringList.optional(),
  kubernetes_users: stringList.optional(),
  kubernetes_resources: z.array(kubernetesResource).optional(),
  windows_desktop_labels: labelSelector.optional(),
  windows_desktop_logins: stringList.optional(),
  rules: z.array(rule).optional(),
  request: accessRequestConditions.optional(),
  review_requests: reviewConditions.optional(),
  join_sessions: z.array(joinPolicy).optional(),
  namespaces,

  node_labels_expression: noExpressions("node_labels"),
  db_labels_expression: noExpressions("db_labels"),
  app_labels_expression: noExpressions("app_labels"),
  kubernetes_labels_expression: noExpressions("kubernetes_labels"),
  windows_desktop_labels_expression: noExpressions("windows_desktop_labels"),
  cluster_labels_expression: noExpressions("cluster_labels"),
  db_service_labels_expression: noExpressions("db_service_labels"),
  group_labels_expression: noExpressions("group_labels"),
  require_session_join: unsupported("moderated sessions (require_session_join) are not supported yet"),

  cluster_labels: ignored,
  db_service_labels: ignored,
  db_roles: ignored,
  db_permissions: ignored,
  aws_role_arns: ignored,
  azure_identities: ignored,
  gcp_service_accounts: ignored,
  host_groups: ignored,
  host_sudoers: ignored,
  desktop_groups: ignored,
  group_labels: ignored,
  impersonate: ignored,
  spiffe: ignored,
});

const recordMode = oneOf(["best_effort", "strict"]);

export const roleOptions = strict({
  max_session_ttl: positiveDuration.prefault(DEFAULT_MAX_SESSION_TTL),
  require_session_mfa: z
    .union(
      [bool, oneOf(["off", "session", "hardware_key", "hardware_key_touch", "hardware_key_pin", "hardware_key_touch_and_pin", "session_and_hardware_key"])],
      {
        error: (iss) => (iss.input === undefined ? "required" : 'expected true, false or an MFA mode like "session"'),
      },
    )
    .optional(),
  forward_agent: bool.optional(),
  port_forwarding: bool.optional(),
  ssh_port_forwarding: strict({
    local: strict({ enabled: bool }).optional(),
    remote: strict({ enabled: bool }).optional(),
  }).optional(),
  permit_x11_forwarding: bool.optional(),
  ssh_file_copy: bool.optional(),
  client_idle_timeout: duration.optional(),
  disconnect_expired_cert: bool.optional(),
  record_session: strict({ desktop: bool.optional(), default: recordMode.optional(), ssh: recordMode.optional() }).optional(),
  create_host_user: bool.optional(),
  create_host_user_mode: oneOf(["off", "keep", "drop", "insecure-drop"]).optional(),
  create_host_user_default_shell: str.optional(),
  cert_format: oneOf(["standard", "oldssh"]).prefault("standard"),
  enhanced_recording: z.array(oneOf(["command", "network", "disk"])).optional(),
  pin_source_ip: bool.optional(),
  lock: oneOf(["best_effort", "strict"]).optional(),
  max_sessions: count.optional(),
  max_connections: count.optional(),
  max_kubernetes_connections: count.optional(),
  request_access: oneOf(["optional", "always", "reason"]).optional(),
  request_prompt: str.optional(),
  desktop_clipboard: bool.optional(),
  desktop_directory_sharing: bool.optional(),
  create_desktop_user: bool.optional(),
  create_db_user: bool.optional(),
  create_db_user_mode: str.optional(),
  device_trust_mode: oneOf(["off", "optional", "required"]).optional(),
  mfa_verification_interval: duration.optional(),
  idp: ignored,
  cert_extensions: ignored,
});

export const roleSpec = strict({
  allow: roleConditions.prefault({}),
  deny: roleConditions.prefault({}),
  options: roleOptions.prefault({}),
}).superRefine((spec, ctx) => {
  for (const [i, login] of (spec.allow.logins ?? []).entries()) {
    if (login === "*") {
      ctx.addIssue({ code: "custom", path: ["allow", "logins", i], message: 'the wildcard "*" is not allowed in logins' });
    }
  }
});

export const roleSchema = strict({
  kind: z.literal("role"),
  version: oneOf(ROLE_VERSIONS),
  metadata,
  spec: roleSpec.prefault({}),
}).transform(withRoleDefaults);

export type Role = z.output<typeof roleSchema>;
export type RoleInput = z.input<typeof roleSchema>;
export type RoleConditions = z.output<typeof roleConditions>;
export type RoleOptions = z.output<typeof roleOptions>;
export type Rule = z.output<typeof rule>;
export type KubernetesResource = z.output<typeof kubernetesResource>;
export type JoinPolicy = z.output<typeof joinPolicy>;
export type LabelSelector = z.output<typeof labelSelector>;

/**
 * Teleport's version-specific defaults: a role that selects Kubernetes clusters
 * but lists no kubernetes_resources gets pods only (v5) or everything (v7); v5/v6
 * resources without verbs get every verb.
 */
function withRoleDefaults<T extends { version: string; spec: { allow: RoleConditions } }>(role: T): T {
  const allow = role.spec.allow;
  const selectsKube = Object.keys(allow.kubernetes_labels ?? {}).length > 0;
  if (selectsKube && (allow.kubernetes_resources ?? []).length === 0 && role.version !== "v6") {
    allow.kubernetes_resources =
      role.version === "v5" ? [{ kind: "pod", namespace: "*", name: "*", verbs: ["*"] }] : [{ kind: "*", namespace: "*", name: "*", verbs: ["*"] }];
  }
  if (role.version !== "v7" && allow.kubernetes_resources !== undefined) {
    allow.kubernetes_resources = allow.kubernetes_resources.map((r) => (r.verbs === undefined ? { ...r, verbs: ["*"] } : r));
  }
  return role;
}
