/** Resource types and schemas (DESIGN §8): the public surface of src/api/resources. */
export {
  APP_NAME_PROBLEM,
  APP_URI_SCHEMES,
  type App,
  type AppInput,
  type AppUriScheme,
  appLabels,
  appPublicAddr,
  appSchema,
  appUriProblem,
  appUriScheme,
  isValidAppName,
} from "./app.ts";
export { type AppServer, type AppServerInput, appServerApp, appServerName, appServerSchema } from "./app-server.ts";
export { CA_TYPES, type CaKeySet, type CaType, type CertAuthority, type CertAuthorityInput, certAuthoritySchema, withoutSecrets } from "./cert-authority.ts";
export {
  type ClusterAuthPreference,
  type ClusterAuthPreferenceInput,
  type ClusterName,
  type ClusterNameInput,
  clusterAuthPreferenceSchema,
  clusterNameSchema,
  SECOND_FACTORS,
  SESSION_RECORDING_MODES,
  type SecondFactor,
  type SessionRecordingConfig,
  type SessionRecordingMode,
  sessionRecordingConfigSchema,
} from "./cluster.ts";
export {
  auditsQueries,
  type Database,
  type DatabaseInput,
  type DatabaseProtocol,
  DB_NAME_PROBLEM,
  DB_PROTOCOLS,
  DB_TLS_MODES,
  databaseLabels,
  dbSchema,
  isValidDatabaseName,
  isValidDbUri,
} from "./db.ts";
export { type DatabaseServer, type DatabaseServerInput, dbServerDatabase, dbServerName, dbServerSchema } from "./db-server.ts";
export { durationProblem, formatDuration, parseDuration, tryParseDuration } from "./duration.ts";
export type { DocumentLocation, Path } from "./issues.ts";
export {
  isValidKubeClusterName,
  KUBE_CLUSTER_NAME_PROBLEM,
  type KubeCluster,
  type KubeClusterInput,
  kubeClusterLabels,
  kubeClusterSchema,
} from "./kube-cluster.ts";
export { type KubeServer, type KubeServerInput, kubeServerCluster, kubeServerName, kubeServerSchema } from "./kube-server.ts";
export { findLock, type Lock, type LockInput, lockMessage, lockSchema } from "./lock.ts";
export { type Node, type NodeInput, nodeLabels, nodeSchema } from "./node.ts";
export { parseResource, parseResourceOf, RESOURCE_KINDS, type Resource, type ResourceKind, type ResourceOfKind } from "./parse.ts";
export {
  type CompiledRegex,
  compileFullMatchRegex,
  isRegexPattern,
  MAX_REGEX_INPUT_LENGTH,
  MAX_REGEX_LENGTH,
  regexSafetyProblem,
} from "./patterns.ts";
export {
  DEFAULT_MAX_SESSION_TTL,
  JOIN_MODES,
  type JoinPolicy,
  type KubernetesResource,
  type LabelSelector,
  ROLE_VERSIONS,
  type Role,
  type RoleConditions,
  type RoleInput,
  type RoleOptions,
  type Rule,
  roleSchema,
} from "./role.ts";
export type { Metadata } from "./schema.ts";
export {
  SESSION_KINDS,
  SESSION_STATES,
  SESSION_TRACKER_REFRESH_MS,
  SESSION_TRACKER_TERMINATED_TTL_MS,
  SESSION_TRACKER_TTL_MS,
  type SessionJoinMode,
  type SessionParticipant,
  type SessionState,
  type SessionTracker,
  type SessionTrackerInput,
  type SessionTrackerSpec,
  sessionTrackerResource,
  sessionTrackerSchema,
} from "./session-tracker.ts";
export { TOKEN_ROLES, type Token, type TokenInput, type TokenRole, tokenSchema } from "./token.ts";
export { type Traits, type User, type UserInput, userSchema } from "./user.ts";
export { MAX_YAML_LENGTH, parseYamlDocuments, toCanonicalJson, toYaml } from "./yaml.ts";
