/**
 * `parseResource`: the one way an untrusted document becomes a typed resource.
 * Dispatches on `kind`, checks `version`, validates with the kind's schema and
 * reports every problem with the document, the field and what is wrong.
 */
import type { z } from "zod";
import { badParameter } from "../errors.ts";
import { type App, appSchema } from "./app.ts";
import { type AppServer, appServerSchema } from "./app-server.ts";
import { type CertAuthority, certAuthoritySchema } from "./cert-authority.ts";
import {
  type ClusterAuthPreference,
  type ClusterName,
  clusterAuthPreferenceSchema,
  clusterNameSchema,
  type SessionRecordingConfig,
  sessionRecordingConfigSchema,
} from "./cluster.ts";
import { type Database, dbSchema } from "./db.ts";
import { type DatabaseServer, dbServerSchema } from "./db-server.ts";
import { type DocumentLocation, defaultErrorMap, describeDocument, formatProblems, problemsOf } from "./issues.ts";
import { type KubeCluster, kubeClusterSchema } from "./kube-cluster.ts";
import { type KubeServer, kubeServerSchema } from "./kube-server.ts";
import { type Lock, lockSchema } from "./lock.ts";
import { type Node, nodeSchema } from "./node.ts";
import { ROLE_VERSIONS, type Role, roleSchema } from "./role.ts";
import { describeValue } from "./schema.ts";
import { type SessionTracker, sessionTrackerSchema } from "./session-tracker.ts";
import { type Token, tokenSchema } from "./token.ts";
import { type User, userSchema } from "./user.ts";

export type Resource =
  | User
  | Role
  | Token
  | CertAuthority
  | ClusterName
  | ClusterAuthPreference
  | Node
  | Lock
  | SessionTracker
  | SessionRecordingConfig
  | Database
  | DatabaseServer
  | App
  | AppServer
  | KubeCluster
  | KubeServer;
export type ResourceKind = Resource["kind"];
export type ResourceOfKind<K extends ResourceKind> = Extract<Resource, { kind: K }>;

interface KindEntry {
  versions: readonly string[];
  schema: z.ZodType<Resource>;
}

const KINDS: Readonly<Record<ResourceKind, KindEntry>> = {
  app: { versions: ["v3"], schema: appSchema },
  app_server: { versions: ["v3"], schema: appServerSchema },
  cert_authority: { versions: ["v2"], schema: certAuthoritySchema },
  cluster_auth_preference: { versions: ["v2"], schema: clusterAuthPreferenceSchema },
  cluster_name: { versions: ["v2"], schema: clusterNameSchema },
  db: { versions: ["v3"], schema: dbSchema },
  db_server: { versions: ["v3"], schema: dbServerSchema },
  kube_cluster: { versions: ["v3"], schema: kubeClusterSchema },
  kube_server: { versions: ["v3"], schema: kubeServerSchema },
  lock: { versions: ["v2"], schema: lockSchema },
  node: { versions: ["v2"], schema: nodeSchema },
  role: { versions: ROLE_VERSIONS, schema: roleSchema },
  session_recording_config: { versions: ["v2"], schema: sessionRecordingConfigSchema },
  session_tracker: { versions: ["v1"], schema: sessionTrackerSchema },
  token: { versions: ["v2"], schema: tokenSchema },
  user: { versions: ["v2"], schema: userSchema },
};

export const RESOURCE_KINDS: readonly ResourceKind[] = Object.keys(KINDS).sort() as ResourceKind[];

function isKind(k: string): k is ResourceKind {
  return Object.hasOwn(KINDS, k);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Removes `key: null` entries (what YAML gives for `key:` with nothing after it),
 * so an empty field reads as an absent one. Nulls inside lists stay, and are reported.
 */
function dropNulls(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(dropNulls);
  if (!isRecord(v)) return v;
  const out: Record<string, unknown> = {};
  for (const [k, val] of Object.entries(v)) {
    if (val !== null) Object.defineProperty(out, k, { value: dropNulls(val), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/**
 * Validates an untrusted document (from YAML, JSON or the API) and returns the
 * resource with defaults applied. Throws bad-parameter naming every problem.
 */
export function parseResource(doc: unknown, where?: DocumentLocation): Resource {
  const fail = (kind: string | undefined, name: string | undefined, path: PropertyKey[], message: string): never => {
    throw badParameter(formatProblems([{ path, message }], kind, name, where));
  };
  if (!isRecord(doc)) {
    return fail(undefined, undefined, [], `expected a resource (a map with kind, version, metadata and spec), got ${describeValue(doc)}`);
  }
  const clean = dropNulls(doc) as Record<string, unknown>;
  const meta = clean.metadata;
  const name = isRecord(meta) && typeof meta.name === "string" ? meta.name : undefined;
  const kind = clean.kind;
  if (kind === undefined) return fail(undefined, name, ["kind"], "required");
  if (typeof kind !== "string") return fail(undefined, name, ["kind"], `expected a string, got ${describeValue(kind)}`);
  if (!isKind(kind)) {
    return fail(undefined, name, [], `unknown kind ${JSON.stringify(kind)}; known kinds: ${RESOURCE_KINDS.join(", ")}`);
  }
  const entry = KINDS[kind];
  const version = clean.version;
  const supported = entry.versions.join(", ");
  if (version === undefined) return fail(kind, name, ["version"], `required (supported: ${supported})`);
  if (typeof version !== "string" || !entry.versions.includes(version)) {
    const got = typeof version === "string" ? JSON.stringify(version) : describeValue(version);
    return fail(kind, name, ["version"], `unsupported version ${got} for kind ${kind}; supported: ${supported}`);
  }
  const result = entry.schema.safeParse(clean, { error: defaultErrorMap, reportInput: true });
  if (!result.success) {
    throw badParameter(formatProblems(problemsOf(result.error.issues), kind, name, where));
  }
  return result.data;
}

/** Like parseResource, and also checks the kind: `parseResourceOf("role", doc)`. */
export function parseResourceOf<K extends ResourceKind>(kind: K, doc: unknown, where?: DocumentLocation): ResourceOfKind<K> {
  const r = parseResource(doc, where);
  if (r.kind !== kind) {
    throw badParameter(`${describeDocument(r.kind, r.metadata.name, where)}: expected kind ${JSON.stringify(kind)}, got ${JSON.stringify(r.kind)}`);
  }
  return r as ResourceOfKind<K>;
}
