import { badParameter, notFound } from "../../api/errors.ts";
import type { StoredResource } from "../services/index.ts";
import { type CaResource, publicCa } from "./authorities.ts";
import { type AuthContext, storeForKind } from "./context.ts";
import { withStatus } from "./users.ts";
import { validateResource } from "./validate.ts";

/** Kinds the generic resource API reads, and which of them it writes. */
export const READABLE_KINDS = [
  "user",
  "role",
  "token",
  "node",
  "db",
  "db_server",
  "app",
  "app_server",
  "kube_cluster",
  "kube_server",
  "lock",
  "cert_authority",
  "cluster_name",
  "cluster_auth_preference",
  "session_recording_config",
  "session_tracker",
];
const WRITABLE_KINDS = [
  "user",
  "role",
  "token",
  "node",
  "db",
  "db_server",
  "app",
  "app_server",
  "kube_cluster",
  "kube_server",
  "lock",
  "cluster_auth_preference",
  "session_recording_config",
  "session_tracker",
];
/** Singletons kept in the cluster configuration store under their kind's name. */
const CLUSTER_CONFIG_KINDS = ["cluster_name", "cluster_auth_preference", "session_recording_config"];

export function normalizeKind(kind: string): string {
  const k = kind.toLowerCase();
  const aliases: Record<string, string> = {
    users: "user",
    roles: "role",
    tokens: "token",
    nodes: "node",
    dbs: "db",
    database: "db",
    databases: "db",
    db_servers: "db_server",
    apps: "app",
    app_servers: "app_server",
    kube_clusters: "kube_cluster",
    kube_servers: "kube_server",
    locks: "lock",
    cas: "cert_authority",
    cert_authorities: "cert_authority",
    cap: "cluster_auth_preference",
    session_recording: "session_recording_config",
    session_trackers: "session_tracker",
  };
  return aliases[k] ?? k;
}

export async function getResource(ctx: AuthContext, kind: string, name: string): Promise<StoredResource> {
  const k = normalizeKind(kind);
  if (k === "cert_authority") return publicCa(await ctx.stores.cas.get(name));
  if (CLUSTER_CONFIG_KINDS.includes(k)) return ctx.stores.clusterConfig.get(k);
  const store = storeForKind(ctx.stores, k);
  if (!store) throw badParameter(`unknown kind "${kind}"; known kinds: ${READABLE_KINDS.join(", ")}`);
  const res = await store.get(name);
  return k === "user" ? withStatus(ctx, res) : res;
}

export async function listResources(ctx: AuthContext, kind: string): Promise<StoredResource[]> {
  const k = normalizeKind(kind);
  if (k === "cert_authority") return (await ctx.stores.cas.list()).map((c: CaResource) => publicCa(c));
  if (CLUSTER_CONFIG_KINDS.includes(k)) return [await ctx.stores.clusterConfig.get(k)];
  const store = storeForKind(ctx.stores, k);
  if (!store) throw badParameter(`unknown kind "${kind}"; known kinds: ${READABLE_KINDS.join(", ")}`);
  const all = await store.list();
  return k === "user" ? Promise.all(all.map((u) => withStatus(ctx, u))) : all;
}

export async function upsertResource(
  ctx: AuthContext,
  doc: unknown,
  overwrite: boolean,
  actor: string,
  /** Heartbeats rewrite the same resource every minute; they are not audit news. */
  quiet = false,
): Promise<StoredResource> {
  const res = validateResource(doc);
  if (!WRITABLE_KINDS.includes(res.kind)) {
    throw badParameter(`resources of kind "${res.kind}" cannot be created with this command`);
  }
  if (res.kind === "user") {
    // Status is Auth's to report (see withStatus), not a writer's to set.
    delete (res.spec as { status?: unknown }).status;
    for (const r of (res.spec as { roles: string[] }).roles) {
      if (!(await ctx.stores.roles.find(r))) throw notFound(`user "${res.metadata.name}": role "${r}" does not exist`);
    }
  }
  let saved: StoredResource;
  if (CLUSTER_CONFIG_KINDS.includes(res.kind)) {
    saved = await ctx.stores.clusterConfig.upsert({ ...res, metadata: { ...res.metadata, name: res.kind } });
  } else {
    const store = storeForKind(ctx.stores, res.kind);
    if (!store) throw badParameter(`unknown kind "${res.kind}"`);
    const existed = (await store.find(res.metadata.name)) !== undefined;
    saved = overwrite ? await store.upsert(res) : await store.create(res);
    if (!quiet) await auditWrite(ctx, res.kind, res.metadata.name, existed ? "updated" : "created", actor);
  }
  return saved;
}

export async function deleteResource(ctx: AuthContext, kind: string, name: string, actor: string): Promise<void> {
  const k = normalizeKind(kind);
  const store = storeForKind(ctx.stores, k);
  if (!store || !WRITABLE_KINDS.includes(k)) throw badParameter(`resources of kind "${kind}" cannot be deleted`);
  await store.delete(name);
  if (k === "user") {
    await ctx.stores.secrets.delete(name);
    for (const t of await ctx.stores.userTokens.list()) {
      if (t.value.user === name) await ctx.stores.userTokens.delete(t.name);
    }
  }
  await auditWrite(ctx, k, name, "deleted", actor);
}

async function auditWrite(ctx: AuthContext, kind: string, name: string, what: string, actor: string): Promise<void> {
  const event =
    kind === "role"
      ? `role.${what}`
      : kind === "user" || kind === "db" || kind === "app" || kind === "kube_cluster"
        ? `${kind === "kube_cluster" ? "kube" : kind}.${what === "created" ? "create" : what === "updated" ? "update" : "delete"}`
        : kind === "token"
          ? what === "deleted"
            ? "token.delete"
            : "token.create"
          : `${kind}.${what}`;
  await ctx.audit.emit({ event, user: actor, name: kind === "token" ? undefined : name });
}
