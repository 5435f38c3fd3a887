/**
 * The Auth API's Kubernetes parts (the pattern of app-handlers.ts):
 * - kube_server heartbeats: a Kubernetes Service (a host with the `kube`
 *   system role) writes (and removes) only the entries named `<cluster>@<its host id>`.
 * - What users see: kube_server entries whose cluster their roles' kubernetes_labels match.
 */
import { accessDenied } from "../../../api/errors.ts";
import { isValidKubeClusterName, type KubeServer, kubeServerCluster, kubeServerName } from "../../../api/resources/index.ts";
import type { AccessChecker } from "../../rbac/index.ts";
import type { StoredResource } from "../../services/index.ts";
import { validateResource } from "../validate.ts";
import type { Caller } from "./authz.ts";

export const KUBE_SERVER = "kube_server";

const isKubeService = (c: Caller): c is Extract<Caller, { kind: "host" }> => c.kind === "host" && c.systemRoles.includes("kube");

/**
 * A Kubernetes Service's heartbeat: the entry must be valid and named for
 * this host. Returns true when the write is a heartbeat (quiet, no rule needed).
 */
export function guardKubeServerHeartbeat(c: Caller, doc: Record<string, unknown>): boolean {
  if (!isKubeService(c)) return false;
  const s = validateResource(doc) as unknown as KubeServer;
  if (s.spec.host_id !== c.name) throw accessDenied(`host ${c.name} may only register its own Kubernetes clusters (spec.host_id must be ${c.name})`);
  const want = kubeServerName(s.spec.cluster.metadata.name, c.name);
  if (s.metadata.name !== want) throw accessDenied(`host ${c.name} may only write kube_server "${want}"`);
  return true;
}

/** A Kubernetes Service removing one of its own entries (a context dropped from its kubeconfig). */
export function isOwnKubeServerDelete(c: Caller, kind: string, name: string): boolean {
  if (!(kind === KUBE_SERVER && isKubeService(c))) return false;
  const suffix = `@${c.name}`;
  return name.endsWith(suffix) && isValidKubeClusterName(name.slice(0, -suffix.length));
}

/** A kube_server entry is visible to a user whose roles' kubernetes_labels match its cluster (and allow a group or user there). */
export function canSeeKubeServer(checker: AccessChecker, stored: StoredResource): boolean {
  return checker.checkKubeAccess({ labels: kubeServerCluster(stored as unknown as KubeServer).labels }).allowed;
}

/** Users without a rule on kube_server see the entries whose cluster their roles' kubernetes_labels match. */
export function visibleKubeServers(checker: AccessChecker, all: StoredResource[]): StoredResource[] {
  return all.filter((s) => canSeeKubeServer(checker, s));
}
