/**
 * What a Kubernetes API request asks for, read from its method, path and query
 * the way the API server's own RequestInfo does, so the decision here is about
 * the same thing the API server will do:
 *
 *   GET    /api/v1/namespaces/dev/pods            → list pods in dev
 *   GET    /api/v1/namespaces/dev/pods?watch=true → watch pods in dev
 *   GET    /apis/apps/v1/deployments              → list deployments, all namespaces
 *   POST   /api/v1/namespaces/dev/pods/web/exec   → create pods/exec web in dev
 *   DELETE /api/v1/namespaces/dev/pods            → deletecollection
 *   GET    /api/v1/namespaces/dev                 → get namespace dev
 *   GET    /version, /api, /apis/apps/v1, /openapi/v2 → non-resource requests
 *
 * Pure; every problem is a `KubeRequestError` (a 400 for the client).
 */
import { KubeAccessError } from "./errors.ts";

export interface KubeRequestInfo {
  /** False for discovery, /version, /healthz, /openapi and other non-resource paths. */
  isResource: boolean;
  /**
   * Resource requests: get, list, watch, create, update, patch, delete,
   * deletecollection, proxy (or another verb the path names). Non-resource
   * requests: the lowercased HTTP method.
   */
  verb: string;
  /** The path, percent-decoded. */
  path: string;
  /** "" for the core group (/api) and for non-resource requests. */
  apiGroup: string;
  apiVersion: string;
  /** "" for cluster-scoped resources and requests across all namespaces. */
  namespace: string;
  /** Plural resource name ("pods"), "" for non-resource requests. */
  resource: string;
  /** "exec", "log", "status", "scale", … or "". */
  subresource: string;
  /** "" for collections (list, watch, deletecollection, create). */
  name: string;
}

export class KubeRequestError extends KubeAccessError {
  constructor(message: string) {
    super("BadRequest", message);
    this.name = "KubeRequestError";
  }
}

export function isKubeRequestError(e: unknown): e is KubeRequestError {
  return e instanceof KubeRequestError;
}

/** Request targets longer than this are refused (the API server's own limit is far above any real path). */
export const MAX_KUBE_PATH_BYTES = 8192;

const API_PREFIXES = new Set(["api", "apis"]);
const GROUPLESS_PREFIXES = new Set(["api"]);
/** Verbs named by the path itself (`/api/v1/watch/...`, `/api/v1/proxy/...`). */
const SPECIAL_VERBS = new Set(["proxy", "watch"]);
const SPECIAL_VERBS_NO_SUBRESOURCES = new Set(["proxy"]);
/** `/namespaces/NAME/status` is the namespace's own subresource, not a resource inside it. */
const NAMESPACE_SUBRESOURCES = new Set(["status", "finalize"]);

const METHOD_VERBS: Record<string, string> = { POST: "create", GET: "get", HEAD: "get", PUT: "update", PATCH: "patch", DELETE: "delete" };

function decodePath(raw: string): string {
  // Go's URL parser decodes the path before the API server splits it; a bad escape is a 400 there.
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new KubeRequestError(`invalid URL path ${JSON.stringify(raw.slice(0, 200))}: bad percent-encoding`);
  }
}

/** Go's `strconv.ParseBool`-like reading the API server applies to `watch`. */
function isTrue(v: string): boolean {
  const s = v.toLowerCase();
  return !(s === "0" || s === "f" || s === "false");
}

/** `metadata.name=NAME` (or `==`) in a field selector: the one object a list or watch is about. */
function nameFromFieldSelector(selector: string): string | undefined {
  for (const term of selector.split(",")) {
    const m = /^\s*metadata\.name\s*(==|=)\s*(.*?)\s*$/.exec(term);
    if (m) return m[2];
  }
  return undefined;
}

/** A name the API server would accept in a path segment. */
function isPathSegmentName(name: string): boolean {
  return name !== "" && name !== "." && name !== ".." && !name.includes("/") && !name.includes("%");
}

/**
 * Parses one request. `path` is the raw (still percent-encoded) path, `query`
 * the raw query string without "?" (or parsed parameters).
 */
export function parseKubeRequest(method: string, path: string, query: string | URLSearchParams = ""): KubeRequestInfo {
  if (path.length > MAX_KUBE_PATH_BYTES) throw new KubeRequestError(`the request path is longer than ${MAX_KUBE_PATH_BYTES} bytes`);
  if (!path.startsWith("/")) throw new KubeRequestError(`invalid request path ${JSON.stringify(path.slice(0, 200))}: it must start with "/"`);
  const decoded = decodePath(path);
  if (/[\0\r\n]/.test(decoded)) throw new KubeRequestError("invalid request path: it contains control characters");
  const params = typeof query === "string" ? new URLSearchParams(query) : query;
  const upper = method.toUpperCase();
  const nonResource = (): KubeRequestInfo => ({
    isResource: false,
    verb: upper.toLowerCase(),
    path: decoded,
    apiGroup: "",
    apiVersion: "",
    namespace: "",
    resource: "",
    subresource: "",
    name: "",
  });

  const trimmed = decoded.replace(/^\/+|\/+$/g, "");
  let parts = trimmed === "" ? [] : trimmed.split("/");
  if (parts.length < 3 || !API_PREFIXES.has(parts[0] ?? "")) return nonResource();

  // From here on the path names a resource: segments the API server would read differently are refused.
  for (const p of parts) {
    if (p === "" || p === "." || p === "..")
      throw new KubeRequestError(`invalid request path ${JSON.stringify(decoded.slice(0, 200))}: empty, "." or ".." segment`);
  }

  const prefix = parts[0] ?? "";
  parts = parts.slice(1);
  let apiGroup = "";
  if (!GROUPLESS_PREFIXES.has(prefix)) {
    // /apis/GROUP/VERSION alone is discovery.
    if (parts.length < 3) return nonResource();
    apiGroup = parts[0] ?? "";
    parts = parts.slice(1);
  }
  const apiVersion = parts[0] ?? "";
  parts = parts.slice(1);

  let verb = METHOD_VERBS[upper] ?? "";
  if (verb === "") throw new KubeRequestError(`method ${JSON.stringify(method.slice(0, 20))} is not allowed on Kubernetes resources`);
  if (SPECIAL_VERBS.has(parts[0] ?? "")) {
    if (parts.length < 2) throw new KubeRequestError(`unable to determine kind and namespace from URL ${JSON.stringify(decoded.slice(0, 200))}`);
    verb = parts[0] ?? verb;
    parts = parts.slice(1);
  }

  let namespace = "";
  if (parts[0] === "namespaces") {
    if (parts.length > 1) {
      namespace = parts[1] ?? "";
      if (parts.length > 2 && !NAMESPACE_SUBRESOURCES.has(parts[2] ?? "")) parts = parts.slice(2);
    }
  }

  let resource = "";
  let name = "";
  let subresource = "";
  if (parts.length >= 3 && !SPECIAL_VERBS_NO_SUBRESOURCES.has(verb)) subresource = parts[2] ?? "";
  if (parts.length >= 2) name = parts[1] ?? "";
  if (parts.length >= 1) resource = parts[0] ?? "";

  if (name === "" && verb === "get") {
    const watch = params.getAll("watch");
    verb = watch.length > 0 && isTrue(watch[0] ?? "") ? "watch" : "list";
    const selector = params.get("fieldSelector");
    if (selector !== null) {
      const n = nameFromFieldSelector(selector);
      if (n !== undefined && isPathSegmentName(n)) name = n;
    }
  }
  if (name === "" && verb === "delete") verb = "deletecollection";

  return { isResource: true, verb, path: decoded, apiGroup, apiVersion, namespace, resource, subresource, name };
}

/** Parses a request-target as node gives it (`req.url`: path and query). */
export function parseKubeRequestUrl(method: string, url: string): KubeRequestInfo {
  const q = url.indexOf("?");
  return q < 0 ? parseKubeRequest(method, url) : parseKubeRequest(method, url.slice(0, q), url.slice(q + 1));
}
