/**
 * A fake Kubernetes API server for the test tree only: enough of the API for the
 * real `kubectl` (1.30+) to list pods, namespaces and deployments and to exec into
 * a pod, so that Jumpgate's Kubernetes access can be tested end to end without a
 * cluster. Nothing here is meant for production use.
 *
 * What it implements:
 * - HTTPS on 127.0.0.1 (port 0) with its own CA and server certificate (ECDSA P-256).
 * - Authentication by a client certificate signed by its CA (the credential is the
 *   subject CN) or by a bearer token (`tokens`: token value → name). Anything else
 *   gets 401 Unauthorized.
 * - Impersonation: `Impersonate-User`, every `Impersonate-Group`, `Impersonate-Uid`
 *   and `Impersonate-Extra-*` are recorded. With `requireImpersonation` (the default)
 *   every resource request without `Impersonate-User` is refused with 403 Forbidden,
 *   as for a service credential that may only impersonate; discovery and /version
 *   are open to any authenticated caller, as in a real cluster.
 * - Legacy discovery: /version, /api, /apis, /api/v1, /apis/apps/v1 (JSON). Requests
 *   for aggregated discovery (`as=APIGroupDiscoveryList`) get the legacy documents
 *   with `Content-Type: application/json`, from which client-go falls back by itself.
 * - Read-only pods (`get`, `list` in a namespace or across all, `labelSelector` with
 *   `k=v` terms), namespaces and apps/v1 deployments, as plain JSON objects and lists
 *   or as a meta.k8s.io/v1 Table when the client asks `as=Table` (what `kubectl get`
 *   prints from). `includeObject=None|Metadata|Object` is honoured in Table rows.
 * - Exec (`/api/v1/namespaces/NS/pods/NAME/exec`) over WebSocket with the
 *   `v5.channel.k8s.io` subprotocol (and `v4.channel.k8s.io`, which has no stdin
 *   close): channel 0 stdin, 1 stdout, 2 stderr, 3 the final metav1.Status, 4 resize
 *   JSON, 255 the v5 half-close signal. The "container" runs a tiny built-in shell,
 *   never a process: `echo` (with `$((…))` integer arithmetic, quotes and `$?`),
 *   `hostname` (prints the pod name), `true`, `false`, `exit [N]`, and `sh -c '…'`.
 *   `sh`/`bash` read lines from stdin; with `tty=true` they echo input, print a
 *   `# ` prompt and handle Enter, Backspace, Ctrl-C and Ctrl-D like a terminal
 *   would. Anything else prints "not found" and exits 127.
 * - Every request is recorded in `requests` (method, path, query, credential,
 *   impersonation headers, Accept, Upgrade, response status); every exec in `execs`.
 *
 * What it does not implement (answered 404, 405 or 400 with a Status body):
 * - SPDY/3.1 upgrades. kubectl before 1.30 (e.g. Debian's kubernetes-client 1.20)
 *   only speaks SPDY for exec, attach, cp and port-forward, so exec through this fake
 *   needs kubectl ≥ 1.30; kubectl ≥ 1.30 tries WebSocket first and only falls back to
 *   SPDY when the upgrade fails, which then fails too, with this fake's message.
 * - Any write (create, apply, patch, delete), watch, logs, attach, port-forward,
 *   protobuf, aggregated discovery documents, OpenAPI (/openapi/v2 and /v3 are 404,
 *   so `kubectl explain` and client-side validation of apply do not work), RBAC
 *   (every impersonated user may do everything), HTTP/2, base64 WebSocket protocols.
 */
import { randomUUID } from "node:crypto";
import { writeFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import https from "node:https";
import type { AddressInfo, Socket } from "node:net";
import { StringDecoder } from "node:string_decoder";
import type { TLSSocket } from "node:tls";
import { WebSocket, WebSocketServer } from "ws";
import { stringify as toYaml } from "yaml";
import { systemClock } from "../../src/api/clock.ts";
import { type CertificateAuthority, createCa, generateEcdsaP256, issueServerCertificate } from "../../src/lib/crypto/index.ts";

// ---------------------------------------------------------------- configuration

export interface FakePod {
  namespace: string;
  name: string;
  /** Container names (default: one, named after the pod's name up to its last "-"). */
  containers?: string[];
  labels?: Record<string, string>;
  /** Default Running; exec into Succeeded or Failed pods is refused as kubectl expects. */
  phase?: "Pending" | "Running" | "Succeeded" | "Failed";
}

export interface FakeDeployment {
  namespace: string;
  name: string;
  replicas: number;
}

export interface FakeKubeOptions {
  /** Default: default/web-1, default/web-2, kube-system/coredns-1. */
  pods?: FakePod[];
  /** Namespaces besides those of the pods. */
  namespaces?: string[];
  /** Default: default/web with 2 replicas. */
  deployments?: FakeDeployment[];
  /** Bearer tokens accepted: token value → the credential's name (default none). */
  tokens?: Record<string, string>;
  /** Accept client certificates signed by the fake's CA (default true). */
  clientCertAuth?: boolean;
  /** Refuse resource requests that do not impersonate a user (default true). */
  requireImpersonation?: boolean;
  /**
   * What /version reports (default "v1.32.0"). The Google Cloud SDK's `kubectl`
   * dispatcher picks the kubectl minor version matching the server, so this also
   * selects the client there.
   */
  serverVersion?: string;
}

export const DEFAULT_PODS: readonly FakePod[] = [
  { namespace: "default", name: "web-1", labels: { app: "web" } },
  { namespace: "default", name: "web-2", labels: { app: "web" } },
  { namespace: "kube-system", name: "coredns-1", labels: { "k8s-app": "kube-dns" } },
];

// ---------------------------------------------------------------- records

export interface FakeKubeRequest {
  method: string;
  path: string;
  query: Record<string, string[]>;
  /** The authenticated credential: a client certificate's CN or a token's name; null when none. */
  credential: string | null;
  authMethod: "cert" | "token" | "none";
  impersonateUser: string | null;
  /** Every Impersonate-Group header value, in order. */
  impersonateGroups: string[];
  impersonateUid: string | null;
  /** Impersonate-Extra-KEY headers: KEY (lower-case) → values. */
  impersonateExtra: Record<string, string[]>;
  accept: string;
  upgrade: string | null;
  /** The response status (101 for an accepted exec upgrade); 0 until answered. */
  status: number;
}

export interface FakeKubeExec {
  namespace: string;
  pod: string;
  container: string;
  command: string[];
  tty: boolean;
  stdin: boolean;
  subprotocol: string;
  /** Last terminal size received on channel 4, if any. */
  size: { width: number; height: number } | null;
  /** Null while running. */
  exitCode: number | null;
}

export interface KubeconfigContext {
  /** The context's (and its cluster's and user's) name. */
  name: string;
  /** Authenticate with a client certificate with this CN, issued by the fake's CA. */
  clientCertCn?: string;
  /** Authenticate with this bearer token. */
  token?: string;
  namespace?: string;
  /** Written as the user's `as` and `as-groups`, so kubectl impersonates. */
  impersonate?: { user: string; groups?: string[] };
}

export interface FakeKube {
  url: string;
  port: number;
  caPem: string;
  requests: FakeKubeRequest[];
  execs: FakeKubeExec[];
  /** Forgets recorded requests and execs. */
  reset(): void;
  /** A client certificate and key (PEM) with this CN, signed by the fake's CA. */
  issueClientCert(commonName: string): Promise<{ certPem: string; keyPem: string }>;
  /** Writes a kubeconfig (YAML, mode 0600) with one cluster/user/context per entry, all pointing here; the first is current. */
  writeKubeconfig(path: string, config: { contexts: KubeconfigContext[]; currentContext?: string }): Promise<void>;
  close(): Promise<void>;
}

// ---------------------------------------------------------------- the API model

type Obj = Record<string, unknown>;

interface Reply {
  status: number;
  body: Obj;
}

interface ApiRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  accept: string;
  impersonating: boolean;
  credential: string;
}

interface ExecTarget {
  namespace: string;
  pod: string;
  container: string;
  command: string[];
  tty: boolean;
  stdin: boolean;
}

function status(code: number, reason: string, message: string, details?: Obj): Reply {
  const body: Obj = { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason, code };
  if (details) body.details = details;
  return { status: code, body };
}

const notFound = (kind: string, name: string): Reply => status(404, "NotFound", `${kind} "${name}" not found`, { name, kind });
const unknownPath = (): Reply => status(404, "NotFound", "the server could not find the requested resource", {});

function forbidden(r: ApiRequest, verb: string, resource: string, ns: string | null, group = ""): Reply {
  const where = ns ? ` in the namespace "${ns}"` : " at the cluster scope";
  return status(
    403,
    "Forbidden",
    `${resource} is forbidden: User "${r.credential}" cannot ${verb} resource "${resource}" in API group "${group}"${where}: fakekube requires impersonation (Impersonate-User)`,
    { kind: resource },
  );
}

/** kubectl's HumanDuration, roughly. */
function age(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const m = Math.floor(s / 60);
  const h = Math.floor(m / 60);
  const d = Math.floor(h / 24);
  if (s < 120) return `${s}s`;
  if (m < 10) return `${m}m${s % 60 ? `${s % 60}s` : ""}`;
  if (h < 3) return `${m}m`;
  if (h < 8) return `${h}h${m % 60 ? `${m % 60}m` : ""}`;
  if (h < 48) return `${h}h`;
  if (d < 8) return `${d}d${h % 24 ? `${h % 24}h` : ""}`;
  return `${d}d`;
}

function wantsTable(accept: string): boolean {
  return accept.split(",").some((part) => {
    const params = part.split(";").map((p) => p.trim());
    return params.includes("as=Table") && params.includes("g=meta.k8s.io") && params.includes("v=v1");
  });
}

function matchesSelector(labels: Record<string, string>, selector: string | null): boolean {
  if (!selector) return true;
  return selector.split(",").every((term) => {
    const t = term.trim();
    if (t === "") return true;
    const neq = /^([^!=]+)!=(.*)$/.exec(t);
    if (neq) return labels[neq[1]?.trim() ?? ""] !== neq[2]?.trim();
    const eq = /^([^=]+)==?(.*)$/.exec(t);
    if (eq) return labels[eq[1]?.trim() ?? ""] === eq[2]?.trim();
    return (labels[t] ?? null) !== null;
  });
}

interface Column {
  name: string;
  description: string;
  priority?: number;
  format?: string;
}

class Model {
  private readonly born = Date.now() - 3_600_000;
  readonly pods: FakePod[];
  readonly deployments: FakeDeployment[];
  readonly namespaces: string[];
  private readonly uids = new Map<string, string>();

  constructor(
    opts: FakeKubeOptions,
    private readonly version: string,
    private readonly serverAddress: () => string,
  ) {
    this.pods = (opts.pods ?? DEFAULT_PODS).map((p) => ({ ...p }));
    this.deployments = (opts.deployments ?? [{ namespace: "default", name: "web", replicas: 2 }]).map((d) => ({ ...d }));
    const ns = new Set(["default", "kube-system", ...(opts.namespaces ?? []), ...this.pods.map((p) => p.namespace)]);
    this.namespaces = [...ns].sort();
  }

  private uid(key: string): string {
    let u = this.uids.get(key);
    if (!u) {
      u = randomUUID();
      this.uids.set(key, u);
    }
    return u;
  }

  private meta(kind: string, name: string, namespace: string | null, labels: Record<string, string> = {}): Obj {
    const m: Obj = {
      name,
      uid: this.uid(`${kind}/${namespace ?? ""}/${name}`),
      resourceVersion: "1",
      creationTimestamp: new Date(this.born).toISOString().replace(/\.\d+Z$/, "Z"),
    };
    if (namespace !== null) m.namespace = namespace;
    if (Object.keys(labels).length > 0) m.labels = { ...labels };
    return m;
  }

  private containersOf(p: FakePod): string[] {
    return p.containers && p.containers.length > 0 ? p.containers : [p.name.replace(/-[^-]*$/, "") || p.name];
  }

  private podObject(p: FakePod): Obj {
    const i = this.pods.indexOf(p) + 2;
    const started = new Date(this.born).toISOString().replace(/\.\d+Z$/, "Z");
    const phase = p.phase ?? "Running";
    const running = phase === "Running";
    const containers = this.containersOf(p);
    return {
      kind: "Pod",
      apiVersion: "v1",
      metadata: this.meta("Pod", p.name, p.namespace, p.labels),
      spec: {
        containers: containers.map((c) => ({ name: c, image: `registry.example/fakekube/${c}:1` })),
        nodeName: "fake-node-1",
        restartPolicy: "Always",
      },
      status: {
        phase,
        hostIP: "10.0.0.1",
        podIP: `10.244.0.${i}`,
        startTime: started,
        conditions: [{ type: "Ready", status: running ? "True" : "False", lastTransitionTime: started }],
        containerStatuses: containers.map((c) => ({
          name: c,
          ready: running,
          restartCount: 0,
          started: running,
          image: `registry.example/fakekube/${c}:1`,
          imageID: "",
          state: running ? { running: { startedAt: started } } : { terminated: { exitCode: 0, reason: "Completed" } },
        })),
      },
    };
  }

  private namespaceObject(name: string): Obj {
    return {
      kind: "Namespace",
      apiVersion: "v1",
      metadata: this.meta("Namespace", name, null, { "kubernetes.io/metadata.name": name }),
      spec: { finalizers: ["kubernetes"] },
      status: { phase: "Active" },
    };
  }

  private deploymentObject(d: FakeDeployment): Obj {
    return {
      kind: "Deployment",
      apiVersion: "apps/v1",
      metadata: this.meta("Deployment", d.name, d.namespace, { app: d.name }),
      spec: { replicas: d.replicas, selector: { matchLabels: { app: d.name } } },
      status: { replicas: d.replicas, readyReplicas: d.replicas, updatedReplicas: d.replicas, availableReplicas: d.replicas },
    };
  }

  private cells(kind: string, o: Obj): unknown[] {
    const meta = o.metadata as Obj;
    const since = age(Date.now() - this.born);
    if (kind === "Pod") {
      const s = o.status as { phase: string; podIP: string; containerStatuses: Array<{ ready: boolean }> };
      const ready = s.containerStatuses.filter((c) => c.ready).length;
      return [meta.name, `${ready}/${s.containerStatuses.length}`, s.phase, "0", since, s.podIP, "fake-node-1", "<none>", "<none>"];
    }
    if (kind === "Namespace") return [meta.name, "Active", since];
    const s = o.status as { replicas: number };
    return [meta.name, `${s.replicas}/${s.replicas}`, s.replicas, s.replicas, since];
  }

  private columns(kind: string): Column[] {
    const name: Column = { name: "Name", format: "name", description: "Name must be unique within a namespace." };
    const ageCol: Column = { name: "Age", description: "CreationTimestamp is a timestamp representing the server time when this object was created." };
    if (kind === "Pod") {
      return [
        name,
        { name: "Ready", description: "The aggregate readiness state of this pod for accepting traffic." },
        { name: "Status", description: "The aggregate status of the containers in this pod." },
        { name: "Restarts", description: "The number of times the containers in this pod have been restarted." },
        ageCol,
        { name: "IP", priority: 1, description: "IP address allocated to the pod." },
        { name: "Node", priority: 1, description: "Name of the node where the pod is scheduled." },
        { name: "Nominated Node", priority: 1, description: "Name of the node nominated for the pod." },
        { name: "Readiness Gates", priority: 1, description: "Pod readiness gates." },
      ];
    }
    if (kind === "Namespace") return [name, { name: "Status", description: "The status of the namespace." }, ageCol];
    return [
      name,
      { name: "Ready", description: "Number of the pod with ready state." },
      { name: "Up-to-date", description: "Total number of non-terminated pods targeted by this deployment that have the desired template spec." },
      { name: "Available", description: "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment." },
      ageCol,
    ];
  }

  private table(kind: string, objects: Obj[], includeObject: string): Obj {
    const numeric = new Set(["Up-to-date", "Available"]);
    return {
      kind: "Table",
      apiVersion: "meta.k8s.io/v1",
      metadata: { resourceVersion: "1" },
      columnDefinitions: this.columns(kind).map((c) => ({
        name: c.name,
        type: numeric.has(c.name) && kind === "Deployment" ? "integer" : "string",
        format: c.format ?? "",
        description: c.description,
        priority: c.priority ?? 0,
      })),
      rows: objects.map((o) => {
        const row: Obj = { cells: this.cells(kind, o) };
        if (includeObject === "Object") row.object = o;
        else if (includeObject !== "None") row.object = { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: o.metadata };
        return row;
      }),
    };
  }

  private answer(r: ApiRequest, kind: string, listKind: string, apiVersion: string, objects: Obj[], single: boolean): Reply {
    if (wantsTable(r.accept)) return { status: 200, body: this.table(kind, objects, r.query.get("includeObject") ?? "Metadata") };
    if (single) return { status: 200, body: objects[0] ?? {} };
    return { status: 200, body: { kind: listKind, apiVersion, metadata: { resourceVersion: "1" }, items: objects } };
  }

  discovery(path: string): Reply | null {
    const r = (body: Obj): Reply => ({ status: 200, body });
    const verbs = ["get", "list"];
    switch (path) {
      case "/version": {
        const [major = "1", minor = "32"] = this.version.replace(/^v/, "").split(".");
        return r({
          major,
          minor,
          gitVersion: this.version,
          gitCommit: "0000000000000000000000000000000000000000",
          gitTreeState: "clean",
          buildDate: "2025-01-01T00:00:00Z",
          goVersion: "go1.23.0",
          compiler: "gc",
          platform: "linux/amd64",
        });
      }
      case "/api":
        return r({ kind: "APIVersions", versions: ["v1"], serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress: this.serverAddress() }] });
      case "/apis": {
        const apps = { groupVersion: "apps/v1", version: "v1" };
        return r({ kind: "APIGroupList", apiVersion: "v1", groups: [{ name: "apps", versions: [apps], preferredVersion: apps }] });
      }
      case "/apis/apps":
        return r({
          kind: "APIGroup",
          apiVersion: "v1",
          name: "apps",
          versions: [{ groupVersion: "apps/v1", version: "v1" }],
          preferredVersion: { groupVersion: "apps/v1", version: "v1" },
        });
      case "/api/v1":
        return r({
          kind: "APIResourceList",
          groupVersion: "v1",
          resources: [
            { name: "namespaces", singularName: "namespace", namespaced: false, kind: "Namespace", verbs, shortNames: ["ns"] },
            { name: "pods", singularName: "pod", namespaced: true, kind: "Pod", verbs, shortNames: ["po"], categories: ["all"] },
            { name: "pods/exec", singularName: "", namespaced: true, kind: "PodExecOptions", verbs: ["create", "get"] },
          ],
        });
      case "/apis/apps/v1":
        return r({
          kind: "APIResourceList",
          apiVersion: "v1",
          groupVersion: "apps/v1",
          resources: [
            { name: "deployments", singularName: "deployment", namespaced: true, kind: "Deployment", verbs, shortNames: ["deploy"], categories: ["all"] },
          ],
        });
      default:
        return null;
    }
  }

  /** Answers a plain (non-exec) request. */
  handle(r: ApiRequest, requireImpersonation: boolean): Reply {
    const disc = r.method === "GET" ? this.discovery(r.path.replace(/\/+$/, "") || "/") : null;
    if (disc) return disc;
    const m =
      /^\/api\/v1(?:\/namespaces\/([^/]+))?\/(pods|namespaces)(?:\/([^/]+))?(\/exec)?$/.exec(r.path) ??
      /^\/apis\/apps\/v1(?:\/namespaces\/([^/]+))?\/(deployments)(?:\/([^/]+))?()$/.exec(r.path);
    if (!m) return unknownPath();
    const [, ns = null, resource = "", name = null, exec] = m;
    if (resource === "namespaces" && ns !== null) return unknownPath();
    const group = resource === "deployments" ? "apps" : "";
    if (requireImpersonation && !r.impersonating) {
      const verb = exec ? "create" : r.method !== "GET" ? r.method.toLowerCase() : name !== null ? "get" : "list";
      return forbidden(r, verb, exec ? "pods/exec" : resource, ns, group);
    }
    if (exec) return status(400, "BadRequest", "exec needs a WebSocket upgrade with subprotocol v5.channel.k8s.io (SPDY is not implemented by fakekube)");
    if (r.method !== "GET") return status(405, "MethodNotAllowed", `fakekube is read-only: ${r.method} is not supported`);
    const selector = r.query.get("labelSelector");
    if (resource === "namespaces") {
      if (name !== null)
        return this.namespaces.includes(name)
          ? this.answer(r, "Namespace", "NamespaceList", "v1", [this.namespaceObject(name)], true)
          : notFound("namespaces", name);
      const all = this.namespaces
        .map((n) => this.namespaceObject(n))
        .filter((o) => matchesSelector(((o.metadata as Obj).labels ?? {}) as Record<string, string>, selector));
      return this.answer(r, "Namespace", "NamespaceList", "v1", all, false);
    }
    if (resource === "pods") {
      const pods = this.pods.filter((p) => (ns === null || p.namespace === ns) && (name === null || p.name === name));
      if (name !== null) return pods[0] ? this.answer(r, "Pod", "PodList", "v1", [this.podObject(pods[0])], true) : notFound("pods", name);
      return this.answer(
        r,
        "Pod",
        "PodList",
        "v1",
        pods.filter((p) => matchesSelector(p.labels ?? {}, selector)).map((p) => this.podObject(p)),
        false,
      );
    }
    const deps = this.deployments.filter((d) => (ns === null || d.namespace === ns) && (name === null || d.name === name));
    if (name !== null)
      return deps[0] ? this.answer(r, "Deployment", "DeploymentList", "apps/v1", [this.deploymentObject(deps[0])], true) : notFound("deployments.apps", name);
    return this.answer(
      r,
      "Deployment",
      "DeploymentList",
      "apps/v1",
      deps.filter((d) => matchesSelector({ app: d.name }, selector)).map((d) => this.deploymentObject(d)),
      false,
    );
  }

  /** Checks an exec request; returns its target or the Status to refuse it with. */
  exec(r: ApiRequest, requireImpersonation: boolean): ExecTarget | Reply {
    const m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/exec$/.exec(r.path);
    if (!m) return this.handle(r, requireImpersonation);
    const [, namespace = "", podName = ""] = m;
    if (requireImpersonation && !r.impersonating) return forbidden(r, "create", "pods/exec", namespace);
    const pod = this.pods.find((p) => p.namespace === namespace && p.name === podName);
    if (!pod) return notFound("pods", podName);
    const containers = this.containersOf(pod);
    const container = r.query.get("container") || containers[0] || "";
    if (!containers.includes(container)) return status(400, "BadRequest", `container ${container} is not valid for pod ${podName}`);
    if (pod.phase === "Succeeded" || pod.phase === "Failed") return status(400, "BadRequest", "cannot exec into a container in a completed pod");
    const command = r.query.getAll("command");
    if (command.length === 0) return status(400, "BadRequest", "you must specify at least 1 command");
    const flag = (k: string) => r.query.get(k) === "true" || r.query.get(k) === "1";
    return { namespace, pod: podName, container, command, tty: flag("tty"), stdin: flag("stdin") };
  }
}

// ---------------------------------------------------------------- the built-in shell

/** `$((…))`: integers with + - * / % and parentheses. Null when malformed. */
export function arithmetic(expr: string): number | null {
  const tokens = expr.match(/\d+|[-+*/%()]|\S/g) ?? [];
  let i = 0;
  const peek = () => tokens[i];
  const primary = (): number | null => {
    const t = tokens[i++];
    if (t === "(") {
      const v = sum();
      return tokens[i++] === ")" ? v : null;
    }
    if (t === "-") {
      const v = primary();
      return v === null ? null : -v;
    }
    return t !== undefined && /^\d+$/.test(t) ? Number(t) : null;
  };
  const product = (): number | null => {
    let v = primary();
    while (v !== null && (peek() === "*" || peek() === "/" || peek() === "%")) {
      const op = tokens[i++];
      const w = primary();
      if (w === null || (op !== "*" && w === 0)) return null;
      v = op === "*" ? v * w : op === "/" ? Math.trunc(v / w) : v % w;
    }
    return v;
  };
  const sum = (): number | null => {
    let v = product();
    while (v !== null && (peek() === "+" || peek() === "-")) {
      const op = tokens[i++];
      const w = product();
      if (w === null) return null;
      v = op === "+" ? v + w : v - w;
    }
    return v;
  };
  const v = sum();
  return v !== null && i === tokens.length ? v : null;
}

/** Splits a command line into words, expanding `$((…))` and `$?` outside single quotes. */
export function words(line: string, lastStatus: number): string[] | { error: string } {
  const out: string[] = [];
  let cur = "";
  let has = false;
  let quote: "'" | '"' | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i] ?? "";
    if (quote === "'") {
      if (c === "'") quote = null;
      else cur += c;
      continue;
    }
    if (c === "$" && line.startsWith("$((", i)) {
      const end = line.indexOf("))", i + 3);
      if (end < 0) return { error: "syntax error: unterminated $((" };
      const v = arithmetic(line.slice(i + 3, end));
      if (v === null) return { error: `arithmetic expression: expecting primary: "${line.slice(i + 3, end)}"` };
      cur += String(v);
      has = true;
      i = end + 1;
      continue;
    }
    if (c === "$" && line[i + 1] === "?") {
      cur += String(lastStatus);
      has = true;
      i++;
      continue;
    }
    if (quote === '"') {
      if (c === '"') quote = null;
      else cur += c;
      continue;
    }
    if (c === "'" || c === '"') {
      quote = c;
      has = true;
    } else if (c === " " || c === "\t") {
      if (has) out.push(cur);
      cur = "";
      has = false;
    } else {
      cur += c;
      has = true;
    }
  }
  if (quote) return { error: "syntax error: unterminated quoted string" };
  if (has) out.push(cur);
  return out;
}

const MAX_LINE = 64 * 1024;

/**
 * The exec "container": a tiny shell over bytes. `input` takes stdin bytes; output
 * goes to `write(channel, bytes)`; `onExit(code)` is called once.
 */
export class FakeShell {
  private line = "";
  private last = 0;
  private done = false;
  private interactive = false;
  /** A CR was just taken as Enter, so an LF right after it is the same key. */
  private pendingCr = false;
  private readonly decoder = new StringDecoder("utf8");

  constructor(
    private readonly pod: string,
    private readonly tty: boolean,
    private readonly write: (channel: 1 | 2, data: string) => void,
    private readonly onExit: (code: number) => void,
  ) {}

  /** Runs the exec's command; an interactive shell then waits for input. */
  start(command: string[]): void {
    const [prog = "", ...args] = command;
    const base = prog.replace(/^.*\//, "");
    if ((base === "sh" || base === "bash") && args[0] === "-c") {
      this.runLine(args[1] ?? "");
      this.exit(this.last);
    } else if ((base === "sh" || base === "bash") && args.length === 0) {
      this.interactive = true;
      this.prompt();
    } else {
      this.runWords(command);
      this.exit(this.last);
    }
  }

  /** Stdin bytes. */
  input(data: Buffer): void {
    if (this.done || !this.interactive) return;
    for (const ch of this.decoder.write(data)) {
      if (this.done) return;
      if (ch === "\r" || ch === "\n") {
        if (ch === "\n" && this.pendingCr) {
          this.pendingCr = false;
          continue;
        }
        this.pendingCr = ch === "\r";
        if (this.tty) this.out("\r\n");
        const l = this.line;
        this.line = "";
        this.runLine(l);
        if (!this.done) this.prompt();
        continue;
      }
      this.pendingCr = false;
      if (this.line.length >= MAX_LINE) {
        this.err("sh: line too long\n");
        this.line = "";
      } else if (!this.tty) {
        this.line += ch;
      } else if (ch === "\x7f" || ch === "\b") {
        if (this.line.length > 0) {
          this.line = this.line.slice(0, -1);
          this.out("\b \b");
        }
      } else if (ch === "\x03") {
        this.line = "";
        this.out("^C\r\n");
        this.last = 130;
        this.prompt();
      } else if (ch === "\x04") {
        if (this.line === "") {
          this.out("exit\r\n");
          this.exit(this.last);
        }
      } else if (ch >= " " || ch === "\t") {
        this.line += ch;
        this.out(ch);
      }
    }
  }

  /** Stdin closed (the v5 close signal, or the stream ending). */
  endOfInput(): void {
    if (this.done || !this.interactive) return;
    if (this.line !== "") {
      const l = this.line;
      this.line = "";
      this.runLine(l);
    }
    this.exit(this.last);
  }

  private out(s: string): void {
    this.write(1, s);
  }

  private err(s: string): void {
    if (this.tty) this.out(s.replace(/\n/g, "\r\n"));
    else this.write(2, s);
  }

  private prompt(): void {
    if (this.tty && !this.done) this.out("# ");
  }

  private exit(code: number): void {
    if (this.done) return;
    this.done = true;
    this.onExit(code);
  }

  private runLine(line: string): void {
    for (const part of line.split(";")) {
      if (this.done) return;
      const w = words(part.trim(), this.last);
      if ("error" in w) {
        this.err(`sh: 1: ${w.error}\n`);
        this.last = 2;
        return;
      }
      if (w.length > 0) this.runWords(w);
    }
  }

  private runWords(w: string[]): void {
    const [cmd = "", ...args] = w;
    const nl = this.tty ? "\r\n" : "\n";
    switch (cmd.replace(/^\/(usr\/)?bin\//, "")) {
      case "echo": {
        const noNewline = args[0] === "-n";
        this.out((noNewline ? args.slice(1) : args).join(" ") + (noNewline ? "" : nl));
        this.last = 0;
        return;
      }
      case "hostname":
        this.out(this.pod + nl);
        this.last = 0;
        return;
      case "true":
        this.last = 0;
        return;
      case "false":
        this.last = 1;
        return;
      case "exit": {
        const n = args[0] === undefined ? this.last : Number.parseInt(args[0], 10);
        this.exit(Number.isFinite(n) ? n & 0xff : 2);
        return;
      }
      default:
        this.err(`sh: 1: ${cmd}: not found\n`);
        this.last = 127;
    }
  }
}

// ---------------------------------------------------------------- exec over WebSocket

const SUBPROTOCOLS = ["v5.channel.k8s.io", "v4.channel.k8s.io"];

function exitStatus(code: number, command: string[]): Obj {
  if (code === 0) return { metadata: {}, status: "Success" };
  return {
    metadata: {},
    status: "Failure",
    message: `command terminated with non-zero exit code: error executing command [${command.join(" ")}], exit code ${code}`,
    reason: "NonZeroExitCode",
    details: { causes: [{ reason: "ExitCode", message: String(code) }] },
  };
}

function runExec(ws: WebSocket, target: ExecTarget, record: FakeKubeExec): void {
  const send = (channel: number, data: string | Buffer) => {
    if (ws.readyState === WebSocket.OPEN) ws.send(Buffer.concat([Buffer.from([channel]), Buffer.from(data)]), { binary: true });
  };
  const shell = new FakeShell(
    target.pod,
    target.tty,
    (channel, data) => send(channel, data),
    (code) => {
      record.exitCode = code;
      send(3, JSON.stringify(exitStatus(code, target.command)));
      ws.close(1000);
    },
  );
  ws.on("message", (msg: Buffer, isBinary: boolean) => {
    if (!isBinary || msg.length === 0) return;
    const channel = msg[0];
    const body = msg.subarray(1);
    if (channel === 0 && target.stdin) shell.input(body);
    else if (channel === 4) {
      try {
        const size = JSON.parse(body.toString("utf8")) as { Width?: unknown; Height?: unknown };
        if (typeof size.Width === "number" && typeof size.Height === "number") record.size = { width: size.Width, height: size.Height };
      } catch {
        // a malformed resize message is ignored, as the kubelet does
      }
    } else if (channel === 255 && body[0] === 0 && record.subprotocol === "v5.channel.k8s.io") shell.endOfInput();
  });
  ws.on("close", () => shell.endOfInput());
  ws.on("error", () => ws.terminate());
  shell.start(target.command);
  // An exec without stdin that is still waiting (an interactive shell) has nothing to read: end it.
  if (!target.stdin) shell.endOfInput();
}

// ---------------------------------------------------------------- the server

function credentialOf(req: IncomingMessage, tokens: Record<string, string>, certs: boolean): { name: string; method: "cert" | "token" } | null {
  const sock = req.socket as TLSSocket;
  if (certs && sock.authorized) {
    const cn = sock.getPeerCertificate().subject?.CN;
    const name = Array.isArray(cn) ? cn[0] : cn;
    if (name) return { name, method: "cert" };
  }
  const auth = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? "");
  const name = auth?.[1] !== undefined ? tokens[auth[1]] : undefined;
  return name !== undefined ? { name, method: "token" } : null;
}

function recordOf(req: IncomingMessage, cred: { name: string; method: "cert" | "token" } | null): FakeKubeRequest {
  const url = new URL(req.url ?? "/", "https://fakekube");
  const query: Record<string, string[]> = {};
  for (const [k, v] of url.searchParams) query[k] = [...(query[k] ?? []), v];
  const extra: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(req.headersDistinct)) {
    if (k.startsWith("impersonate-extra-") && v) extra[k.slice("impersonate-extra-".length)] = [...v];
  }
  return {
    method: req.method ?? "GET",
    path: url.pathname,
    query,
    credential: cred?.name ?? null,
    authMethod: cred?.method ?? "none",
    impersonateUser: req.headersDistinct["impersonate-user"]?.[0] ?? null,
    impersonateGroups: [...(req.headersDistinct["impersonate-group"] ?? [])],
    impersonateUid: req.headersDistinct["impersonate-uid"]?.[0] ?? null,
    impersonateExtra: extra,
    accept: req.headers.accept ?? "",
    upgrade: req.headers.upgrade ?? null,
    status: 0,
  };
}

function json(body: Obj): string {
  return `${JSON.stringify(body)}\n`;
}

/** Refuses an upgrade request on its raw socket with a Status body. */
function refuseUpgrade(socket: Socket, reply: Reply): void {
  const body = json(reply.body);
  const reason = reply.status === 401 ? "Unauthorized" : reply.status === 403 ? "Forbidden" : reply.status === 404 ? "Not Found" : "Bad Request";
  socket.end(
    `HTTP/1.1 ${reply.status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

const unauthorized = (): Reply => status(401, "Unauthorized", "Unauthorized");

export async function startFakeKube(opts: FakeKubeOptions = {}): Promise<FakeKube> {
  const tokens = { ...(opts.tokens ?? {}) };
  const certs = opts.clientCertAuth ?? true;
  const requireImpersonation = opts.requireImpersonation ?? true;
  const ca: CertificateAuthority = await createCa({ commonName: "fakekube CA", organization: "Jumpgate tests", clock: systemClock });
  const serverKey = generateEcdsaP256();
  const serverCert = await issueServerCertificate({
    caCert: ca.certPem,
    caKey: ca.privateKey,
    publicKey: serverKey.publicKey,
    commonName: "kubernetes",
    dnsNames: ["localhost", "kubernetes", "kubernetes.default.svc"],
    ipAddresses: ["127.0.0.1"],
    ttlMs: 24 * 3600_000,
    clock: systemClock,
  });
  let port = 0;
  const model = new Model(opts, opts.serverVersion ?? "v1.32.0", () => `127.0.0.1:${port}`);
  const requests: FakeKubeRequest[] = [];
  const execs: FakeKubeExec[] = [];
  const sockets = new Set<Socket>();

  const apiRequest = (req: IncomingMessage, rec: FakeKubeRequest, cred: string): ApiRequest => ({
    method: rec.method,
    path: rec.path,
    query: new URL(req.url ?? "/", "https://fakekube").searchParams,
    accept: rec.accept,
    impersonating: rec.impersonateUser !== null && rec.impersonateUser !== "",
    credential: cred,
  });

  const server = https.createServer(
    {
      cert: `${serverCert.trim()}\n${ca.certPem.trim()}\n`,
      key: serverKey.privateKey.export({ format: "pem", type: "pkcs8" }).toString(),
      ca: [ca.certPem],
      requestCert: true,
      rejectUnauthorized: false,
    },
    (req: IncomingMessage, res: ServerResponse) => {
      const cred = credentialOf(req, tokens, certs);
      const rec = recordOf(req, cred);
      requests.push(rec);
      req.resume(); // bodies are not read: the fake is read-only
      const reply = cred ? model.handle(apiRequest(req, rec, cred.name), requireImpersonation) : unauthorized();
      rec.status = reply.status;
      const body = json(reply.body);
      res.writeHead(reply.status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body), "Cache-Control": "no-cache, private" });
      res.end(body);
    },
  );
  server.on("secureConnection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });

  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: 1 << 20,
    handleProtocols: (offered: Set<string>) => SUBPROTOCOLS.find((p) => offered.has(p)) ?? false,
  });
  server.on("upgrade", (req: IncomingMessage, socket: Socket, head: Buffer) => {
    const cred = credentialOf(req, tokens, certs);
    const rec = recordOf(req, cred);
    requests.push(rec);
    const refuse = (reply: Reply) => {
      rec.status = reply.status;
      refuseUpgrade(socket, reply);
    };
    if (!cred) return refuse(unauthorized());
    const target = model.exec(apiRequest(req, rec, cred.name), requireImpersonation);
    if ("status" in target) return refuse(target.status === 200 ? status(400, "BadRequest", "upgrade request for a path that does not stream") : target);
    const offered = (req.headers["sec-websocket-protocol"] ?? "").split(",").map((p) => p.trim());
    const subprotocol = SUBPROTOCOLS.find((p) => offered.includes(p));
    if ((req.headers.upgrade ?? "").toLowerCase() !== "websocket" || req.method !== "GET" || !subprotocol) {
      return refuse(
        status(
          400,
          "BadRequest",
          `fakekube only streams exec over WebSocket with subprotocol ${SUBPROTOCOLS.join(" or ")} (got Upgrade: ${req.headers.upgrade ?? ""}; SPDY is not implemented, use kubectl >= 1.30)`,
        ),
      );
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      rec.status = 101;
      const record: FakeKubeExec = { ...target, subprotocol, size: null, exitCode: null };
      execs.push(record);
      runExec(ws, target, record);
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  port = (server.address() as AddressInfo).port;
  const url = `https://127.0.0.1:${port}`;

  const issueClientCert = async (commonName: string) => {
    const key = generateEcdsaP256();
    const cert = await issueServerCertificate({
      caCert: ca.certPem,
      caKey: ca.privateKey,
      publicKey: key.publicKey,
      commonName,
      dnsNames: [],
      ipAddresses: [],
      ttlMs: 24 * 3600_000,
      clock: systemClock,
    });
    return { certPem: cert, keyPem: key.privateKey.export({ format: "pem", type: "pkcs8" }).toString() };
  };

  const b64 = (s: string) => Buffer.from(s).toString("base64");

  return {
    url,
    port,
    caPem: ca.certPem,
    requests,
    execs,
    reset() {
      requests.length = 0;
      execs.length = 0;
    },
    issueClientCert,
    async writeKubeconfig(path, config) {
      const users: Obj[] = [];
      for (const c of config.contexts) {
        const user: Obj = {};
        if (c.clientCertCn !== undefined) {
          const pair = await issueClientCert(c.clientCertCn);
          user["client-certificate-data"] = b64(pair.certPem);
          user["client-key-data"] = b64(pair.keyPem);
        }
        if (c.token !== undefined) user.token = c.token;
        if (c.impersonate) {
          user.as = c.impersonate.user;
          if (c.impersonate.groups?.length) user["as-groups"] = c.impersonate.groups;
        }
        users.push({ name: c.name, user });
      }
      const doc = {
        apiVersion: "v1",
        kind: "Config",
        preferences: {},
        "current-context": config.currentContext ?? config.contexts[0]?.name ?? "",
        clusters: config.contexts.map((c) => ({ name: c.name, cluster: { server: url, "certificate-authority-data": b64(ca.certPem) } })),
        users,
        contexts: config.contexts.map((c) => ({
          name: c.name,
          context: { cluster: c.name, user: c.name, ...(c.namespace ? { namespace: c.namespace } : {}) },
        })),
      };
      writeFileSync(path, toYaml(doc), { mode: 0o600 });
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of wss.clients) c.terminate();
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
