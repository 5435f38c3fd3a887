/**
 * The roles every cluster starts with, as Teleport ships them, adapted to
 * Jumpgate's resource names: `access` (log in everywhere with your own traits),
 * `editor` (manage the cluster's configuration), `auditor` (read the audit log
 * and recordings).
 */
import { parseResourceOf, type Role, type RoleInput } from "../../api/resources/index.ts";
import { VERBS } from "./rules.ts";

const RW = [...VERBS];
const RO = ["list", "read"];
/** Reading the sessions one took part in; editor holds it too, so it may assign `access`. */
const OWN_SESSIONS = { resources: ["session"], verbs: ["read", "list"], where: "contains(session.participants, user.metadata.name)" };
const PRESET_LABELS = { "jumpgate.dev/resource-type": "preset" };

/** Resources the editor manages in full. */
const EDITOR_RESOURCES = [
  "user",
  "role",
  "token",
  "cluster_auth_preference",
  "session_recording_config",
  "node",
  "db",
  "db_server",
  "app",
  "app_server",
  "kube_cluster",
  "kube_server",
  "windows_desktop",
  "lock",
  "bot",
  "access_request",
  "oidc",
  "saml",
  "github",
];

const PRESETS: readonly RoleInput[] = [
  {
    kind: "role",
    version: "v7",
    metadata: { name: "access", description: "Access cluster resources", labels: PRESET_LABELS },
    spec: {
      allow: {
        logins: ["{{internal.logins}}"],
        node_labels: { "*": "*" },
        app_labels: { "*": "*" },
        db_labels: { "*": "*" },
        db_names: ["{{internal.db_names}}"],
        db_users: ["{{internal.db_users}}"],
        kubernetes_labels: { "*": "*" },
        kubernetes_groups: ["{{internal.kubernetes_groups}}"],
        kubernetes_users: ["{{internal.kubernetes_users}}"],
        windows_desktop_labels: { "*": "*" },
        windows_desktop_logins: ["{{internal.windows_logins}}"],
        rules: [OWN_SESSIONS],
      },
      options: { forward_agent: true, port_forwarding: true, record_session: { desktop: true } },
    },
  },
  {
    kind: "role",
    version: "v7",
    metadata: { name: "editor", description: "Edit cluster configuration", labels: PRESET_LABELS },
    spec: {
      allow: {
        rules: [
          ...EDITOR_RESOURCES.map((r) => ({ resources: [r], verbs: RW })),
          { resources: ["cert_authority"], verbs: RO },
          { resources: ["cluster_name"], verbs: RO },
          OWN_SESSIONS,
        ],
      },
    },
  },
  {
    kind: "role",
    version: "v7",
    metadata: { name: "auditor", description: "Review cluster events and replay sessions", labels: PRESET_LABELS },
    spec: {
      allow: {
        rules: [
          { resources: ["event"], verbs: RO },
          { resources: ["session"], verbs: RO },
        ],
        // Auditors may watch live sessions, never type into them (Teleport's preset does the same).
        join_sessions: [{ name: "auditor oversight", roles: ["*"], kinds: ["*"], modes: ["observer"] }],
      },
    },
  },
];

/** Fresh, validated copies of the preset roles. */
export function presetRoles(): Role[] {
  return PRESETS.map((p) => parseResourceOf("role", structuredClone(p)));
}
