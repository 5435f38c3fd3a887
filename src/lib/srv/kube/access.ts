/**
 * The access decision for one Kubernetes API request: may this user reach
 * this cluster (kubernetes_labels, with kubernetes_groups/kubernetes_users to
 * impersonate), and may he do this to this resource (kubernetes_resources)?
 * Then the headers the API server sees: `Impersonate-User` and
 * `Impersonate-Group`, the client's own impersonation and credentials removed.
 *
 * Pure: no I/O. Refusals are `KubeAccessError`s carrying the Kubernetes
 * `Status` the client gets.
 */
import type { Role } from "../../../api/resources/index.ts";
import type { HeaderList } from "../../httpfwd/index.ts";
import { AccessChecker, compilePattern, type Labels, matchPattern, type Traits } from "../../rbac/index.ts";
import { kubeForbidden } from "./errors.ts";
import type { KubeRequestInfo } from "./request.ts";

/** Every authenticated user is in this group; Kubernetes adds it too, Jumpgate says it explicitly as Teleport does. */
export const SYSTEM_AUTHENTICATED = "system:authenticated";

/** The user behind a request: his name and his *current* roles and traits (from Auth, not the certificate). */
export interface KubeUser {
  username: string;
  roles: readonly Role[];
  traits: Traits;
}

/** The cluster a request goes to, with its labels (static plus dynamic results). */
export interface KubeClusterTarget {
  name: string;
  labels: Labels;
}

/**
 * A resource request as kubernetes_resources sees it. `kind` is Teleport's
 * role v7 kind (`pod`, `deployment`, `namespace`, `kube_node`, …), or for
 * other resources the plural name, with `.GROUP` outside the core group.
 */
export interface KubeResourceTarget {
  kind: string;
  verb: string;
  /** "" for cluster-scoped resources. */
  namespace: string;
  /** "" with `allNames`. */
  name: string;
  /** A namespaced resource across every namespace (`kubectl get pods -A`). */
  allNamespaces: boolean;
  /** A collection: list, watch, deletecollection, create without a name in the path. */
  allNames: boolean;
}

/** What the request is allowed as. */
export interface KubeGrant {
  /** `Impersonate-User`. */
  user: string;
  /** `Impersonate-Group` values, `system:authenticated` included. */
  groups: string[];
  /** What the roles allow in this cluster (for the audit log). */
  kubeUsers: string[];
  kubeGroups: string[];
  /** Undefined for non-resource requests (discovery, /version, …). */
  resource?: KubeResourceTarget;
}

/** (API group, plural resource) → Teleport role v7 kind; cluster-scoped kinds are marked. */
const KINDS: Record<string, { kind: string; clusterScoped?: true }> = {
  "/pods": { kind: "pod" },
  "/secrets": { kind: "secret" },
  "/configmaps": { kind: "configmap" },
  "/namespaces": { kind: "namespace", clusterScoped: true },
  "/services": { kind: "service" },
  "/serviceaccounts": { kind: "serviceaccount" },
  "/nodes": { kind: "kube_node", clusterScoped: true },
  "/persistentvolumes": { kind: "persistentvolume", clusterScoped: true },
  "/persistentvolumeclaims": { kind: "persistentvolumeclaim" },
  "apps/deployments": { kind: "deployment" },
  "apps/replicasets": { kind: "replicaset" },
  "apps/statefulsets": { kind: "statefulset" },
  "apps/daemonsets": { kind: "daemonset" },
  "rbac.authorization.k8s.io/clusterroles": { kind: "clusterrole", clusterScoped: true },
  "rbac.authorization.k8s.io/roles": { kind: "kube_role" },
  "rbac.authorization.k8s.io/clusterrolebindings": { kind: "clusterrolebinding", clusterScoped: true },
  "rbac.authorization.k8s.io/rolebindings": { kind: "rolebinding" },
  "batch/cronjobs": { kind: "cronjob" },
  "batch/jobs": { kind: "job" },
  "certificates.k8s.io/certificatesigningrequests": { kind: "certificatesigningrequest", clusterScoped: true },
  "networking.k8s.io/ingresses": { kind: "ingress" },
};

/** Subresources that are their own verb in kubernetes_resources. */
const SUBRESOURCE_VERBS: Record<string, string> = { exec: "exec", attach: "exec", portforward: "portforward" };

/** Maps a parsed resource request onto kubernetes_resources' terms; undefined for non-resource requests. */
export function kubeResourceTarget(req: KubeRequestInfo): KubeResourceTarget | undefined {
  if (!req.isResource) return undefined;
  const known = KINDS[`${req.apiGroup}/${req.resource}`];
  const kind = known?.kind ?? (req.apiGroup === "" ? req.resource : `${req.resource}.${req.apiGroup}`);
  const verb = (req.resource === "pods" && SUBRESOURCE_VERBS[req.subresource]) || req.verb;
  const allNames = req.name === "";
  if (known?.clusterScoped) {
    // A namespace object is cluster-scoped: its name is what matters (the API server reads it as the namespace too).
    return { kind, verb, namespace: "", name: req.name, allNamespaces: false, allNames };
  }
  if (req.namespace !== "") return { kind, verb, namespace: req.namespace, name: req.name, allNamespaces: false, allNames };
  // No namespace: a known namespaced kind across all namespaces; for other kinds, a named object is
  // cluster-scoped (a namespaced one needs its namespace in the path), a collection may span namespaces.
  const allNamespaces = known !== undefined || allNames;
  return { kind, verb, namespace: "", name: req.name, allNamespaces, allNames };
}

/** How people read a request: `list pods in all namespaces`, `create pods/exec "web" in namespace "dev"`. */
export function describeKubeRequest(req: KubeRequestInfo): string {
  if (!req.isResource) return `${req.verb.toUpperCase()} ${req.path}`;
  const what = `${req.resource}${req.subresource ? `/${req.subresource}` : ""}${req.apiGroup ? `.${req.apiGroup}` : ""}`;
  const name = req.name !== "" ? ` "${req.name}"` : "";
  const where =
    req.resource === "namespaces"
      ? ""
      : req.namespace !== ""
        ? ` in namespace "${req.namespace}"`
        : kubeResourceTarget(req)?.allNamespaces
          ? " in all namespaces"
          : "";
  return `${req.verb} ${what}${name}${where}`;
}

/** A deny entry of kubernetes_resources that may cover part of a collection (which a name-by-name check cannot see). */
function denyOverlapping(roles: readonly Role[], t: KubeResourceTarget): { role: string; entry: string } | undefined {
  for (const r of roles) {
    for (const k of r.spec.deny.kubernetes_resources ?? []) {
      if (k.kind !== "*" && k.kind !== t.kind) continue;
      const verbs = k.verbs ?? ["*"];
      if (!verbs.includes("*") && !verbs.includes(t.verb)) continue;
      const nsOk = t.allNamespaces || matchPattern(compilePattern(k.namespace ?? ""), t.namespace) !== "no-match";
      const nameOk = t.allNames || matchPattern(compilePattern(k.name), t.name) !== "no-match";
      if (nsOk && nameOk) return { role: r.metadata.name, entry: `${k.kind} ${k.namespace ? `${k.namespace}/` : ""}${k.name}` };
    }
  }
  return undefined;
}

export interface AuthorizeInput {
  user: KubeUser;
  cluster: KubeClusterTarget;
  request: KubeRequestInfo;
  /** The client's request headers: an explicit `Impersonate-User`/`Impersonate-Group` pick is read from them. */
  headers: HeaderList;
  /** The checker for `user` (built from roles and traits when absent). */
  checker?: AccessChecker;
}

/** Decides one request. Throws `KubeAccessError` (403 Forbidden) with one clear line. */
export function authorizeKubeRequest(a: AuthorizeInput): KubeGrant {
  const { user, cluster, request } = a;
  const checker = a.checker ?? new AccessChecker(user.roles, user.traits);
  const who = `user "${user.username}"`;
  const where = `Kubernetes cluster "${cluster.name}"`;

  const access = checker.checkKubeAccess({ labels: cluster.labels });
  if (!access.allowed) throw kubeForbidden(`Jumpgate: access to ${where} denied for ${who}: ${access.reason}`);

  const resource = kubeResourceTarget(request);
  if (resource !== undefined) {
    const refuse = (reason: string) => kubeForbidden(`Jumpgate: ${who} may not ${describeKubeRequest(request)} in ${where}: ${reason}`);
    const d = checker.checkKubeResource(
      { labels: cluster.labels },
      {
        kind: resource.kind,
        namespace: resource.allNamespaces ? "*" : resource.namespace,
        name: resource.allNames ? "*" : resource.name,
        verb: resource.verb,
      },
    );
    if (!d.allowed) throw refuse(d.reason);
    if (resource.allNamespaces || resource.allNames) {
      // A collection includes whatever a deny entry names: refused whole (the API server's answer is not filtered here).
      const hit = denyOverlapping(user.roles, resource);
      if (hit) throw refuse(`denied by role "${hit.role}": it denies ${resource.verb} on ${hit.entry}, which this request would include`);
    }
  }

  // Impersonation: whom the API server will see.
  const allowedUsers = access.users.length > 0 ? access.users : [user.username];
  const askedUsers = a.headers.getAll("impersonate-user");
  let impersonate: string;
  if (askedUsers.length > 1) throw kubeForbidden(`Jumpgate: ${who}: only one Impersonate-User may be given`);
  const asked = askedUsers[0];
  if (asked !== undefined) {
    if (!allowedUsers.includes(asked)) {
      throw kubeForbidden(`Jumpgate: ${who} may not impersonate Kubernetes user "${asked}" in ${where}; allowed: ${allowedUsers.join(", ")}`);
    }
    impersonate = asked;
  } else if (allowedUsers.length === 1) {
    impersonate = allowedUsers[0] ?? user.username;
  } else {
    throw kubeForbidden(`Jumpgate: your roles allow several kubernetes_users in ${where} (${allowedUsers.join(", ")}): pick one with kubectl --as=USER`);
  }
  const askedGroups = a.headers.getAll("impersonate-group");
  let groups: string[];
  if (askedGroups.length > 0) {
    const allowed = new Set([...access.groups, SYSTEM_AUTHENTICATED]);
    const bad = askedGroups.find((g) => !allowed.has(g));
    if (bad !== undefined) {
      throw kubeForbidden(`Jumpgate: ${who} may not impersonate Kubernetes group "${bad}" in ${where}; allowed: ${access.groups.join(", ") || "none"}`);
    }
    groups = [...new Set(askedGroups)];
  } else {
    groups = [...access.groups];
  }
  if (!groups.includes(SYSTEM_AUTHENTICATED)) groups.push(SYSTEM_AUTHENTICATED);

  return { user: impersonate, groups, kubeUsers: access.users, kubeGroups: access.groups, ...(resource ? { resource } : {}) };
}

/** Is this a header the client may not pass on (its own impersonation or credentials)? */
export function isClientAuthHeader(name: string): boolean {
  const n = name.toLowerCase();
  return n === "authorization" || n.startsWith("impersonate-");
}

/**
 * The request headers for the API server: the client's Authorization and every
 * Impersonate-* removed; the grant's impersonation set; the service's own
 * bearer token when it authenticates with one.
 */
export function applyImpersonation(h: HeaderList, grant: KubeGrant, bearerToken?: string): void {
  for (const [name] of [...h.entries()]) if (isClientAuthHeader(name)) h.delete(name);
  h.set("Impersonate-User", grant.user);
  for (const g of grant.groups) h.append("Impersonate-Group", g);
  if (bearerToken !== undefined) h.set("Authorization", `Bearer ${bearerToken}`);
}
