import type { Logger } from "pino";
import type { Clock } from "../../api/clock.ts";
import type { Backend } from "../backend/index.ts";
import type { AuditLog } from "../events/index.ts";
import { RecordStore, ResourceStore, type StoredResource } from "../services/index.ts";
import type { Authorities, CaResource } from "./authorities.ts";
import type { RecordingStore } from "./recordings.ts";
import type { UserSecrets, UserToken } from "./secrets.ts";

export interface AuthConfig {
  clusterName: string;
  /** Where people reach the proxy, for invite links: "host:port". */
  publicProxyAddr: string;
  secondFactor: "off" | "otp" | "webauthn" | "on";
  lockout: { maxAttempts: number; lockoutMs: number };
  /** Static join tokens from the config file. */
  staticTokens: { token: string; roles: string[] }[];
  inviteTtlMs: number;
  version: string;
  /** Where session recordings are kept. */
  recordingsDir: string;
  /** `auth_service.session_recording`, written to `session_recording_config` at each start; default `node`. */
  sessionRecording?: "node" | "proxy" | "off";
}

/** Everything the Auth Service's parts share; built once in server.ts. */
export interface AuthContext {
  backend: Backend;
  audit: AuditLog;
  clock: Clock;
  log: Logger;
  config: AuthConfig;
  authorities: Authorities;
  stores: AuthStores;
  recordings: RecordingStore;
}

export interface AuthStores {
  users: ResourceStore<StoredResource>;
  roles: ResourceStore<StoredResource>;
  tokens: ResourceStore<StoredResource>;
  nodes: ResourceStore<StoredResource>;
  /** `db`: databases registered with `jctl create` (Database Services serve them). */
  databases: ResourceStore<StoredResource>;
  /** `db_server`: Database Services' heartbeats, one per database served. */
  dbServers: ResourceStore<StoredResource>;
  /** `app`: apps registered with `jctl create` (Application Services serve them). */
  apps: ResourceStore<StoredResource>;
  /** `app_server`: Application Services' heartbeats, one per app served. */
  appServers: ResourceStore<StoredResource>;
  /** `kube_cluster`: Kubernetes clusters registered with `jctl create`. */
  kubeClusters: ResourceStore<StoredResource>;
  /** `kube_server`: Kubernetes Services' heartbeats, one per cluster served. */
  kubeServers: ResourceStore<StoredResource>;
  sessionTrackers: ResourceStore<StoredResource>;
  locks: ResourceStore<StoredResource>;
  cas: ResourceStore<CaResource>;
  clusterConfig: ResourceStore<StoredResource>;
  secrets: RecordStore<UserSecrets>;
  userTokens: RecordStore<UserToken>;
}

export function makeStores(backend: Backend): AuthStores {
  return {
    users: new ResourceStore(backend, "/users", "user"),
    roles: new ResourceStore(backend, "/roles", "role"),
    tokens: new ResourceStore(backend, "/tokens", "token"),
    nodes: new ResourceStore(backend, "/nodes", "node"),
    databases: new ResourceStore(backend, "/databases", "database"),
    dbServers: new ResourceStore(backend, "/db_servers", "database server"),
    apps: new ResourceStore(backend, "/apps", "app"),
    appServers: new ResourceStore(backend, "/app_servers", "app server"),
    kubeClusters: new ResourceStore(backend, "/kube_clusters", "Kubernetes cluster"),
    kubeServers: new ResourceStore(backend, "/kube_servers", "Kubernetes server"),
    sessionTrackers: new ResourceStore(backend, "/session_trackers", "session"),
    locks: new ResourceStore(backend, "/locks", "lock"),
    cas: new ResourceStore<CaResource>(backend, "/authorities", "certificate authority"),
    clusterConfig: new ResourceStore(backend, "/cluster_configuration", "cluster configuration"),
    secrets: new RecordStore<UserSecrets>(backend, "/user_secrets"),
    userTokens: new RecordStore<UserToken>(backend, "/user_tokens"),
  };
}

/** Map from resource kind to its store, for the generic resource API. */
export function storeForKind(stores: AuthStores, kind: string): ResourceStore<StoredResource> | undefined {
  switch (kind) {
    case "user":
      return stores.users;
    case "role":
      return stores.roles;
    case "token":
      return stores.tokens;
    case "node":
      return stores.nodes;
    case "db":
      return stores.databases;
    case "db_server":
      return stores.dbServers;
    case "app":
      return stores.apps;
    case "app_server":
      return stores.appServers;
    case "kube_cluster":
      return stores.kubeClusters;
    case "kube_server":
      return stores.kubeServers;
    case "session_tracker":
      return stores.sessionTrackers;
    case "lock":
      return stores.locks;
    default:
      return undefined;
  }
}
