/**
 * The Kubernetes Service's kubeconfig (`kubernetes_service.kubeconfig_file`):
 * every context becomes one cluster, named after the context, with the API
 * server's address, the CA to trust it with, and the credentials the service
 * itself uses there (a client certificate, or a bearer token) — users'
 * requests are then made as them through impersonation.
 *
 * Exec and auth-provider plugins, basic auth, proxies and kubeconfig-level
 * impersonation are refused with a message saying so; file paths are relative
 * to the kubeconfig's directory, as kubectl reads them.
 */
import { readFileSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import { parseDocument } from "yaml";
import { badParameter } from "../../../api/errors.ts";
import { isValidKubeClusterName, KUBE_CLUSTER_NAME_PROBLEM } from "../../../api/resources/index.ts";

/** What the service authenticates to the API server with. */
export type KubeCredentials =
  | { kind: "client-cert"; cert: string; key: string }
  | { kind: "token"; token: string }
  /** Read again while the service runs: projected service-account tokens rotate. */
  | { kind: "token-file"; path: string };

export interface KubeClusterConfig {
  /** The context's name: the cluster's name in Jumpgate. */
  name: string;
  /** The API server's URL, `https://host:port` (or `http://`). */
  server: string;
  /** PEM CA certificate(s) to trust the API server with; absent: the system roots. */
  ca?: string;
  insecureSkipTlsVerify: boolean;
  /** The name to check the API server's certificate against, when not the server's host. */
  tlsServerName?: string;
  credentials: KubeCredentials;
}

export interface KubeconfigOptions {
  /** For messages: the file's path. */
  source?: string;
  /** Relative file references are resolved from here; default the source's directory (or the working directory). */
  baseDir?: string;
  /** Reads a referenced file (CA, certificate, key); default `fs.readFileSync`. */
  readFile?: (path: string) => string;
}

/** Larger kubeconfigs are refused before parsing. */
export const MAX_KUBECONFIG_BYTES = 4 * 1024 * 1024;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/** Reads every context of the kubeconfig file at `path`. */
export function loadKubeconfig(path: string, o: Omit<KubeconfigOptions, "source"> = {}): KubeClusterConfig[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw badParameter(`cannot read kubeconfig ${path}: ${(e as { code?: string }).code ?? String(e)}`);
  }
  return parseKubeconfig(text, { baseDir: dirname(resolve(path)), ...o, source: path });
}

/** Reads every context of a kubeconfig text. Throws bad-parameter naming the file and the context. */
export function parseKubeconfig(text: string, o: KubeconfigOptions = {}): KubeClusterConfig[] {
  const source = `kubeconfig ${o.source ?? "(inline)"}`;
  const fail = (msg: string) => badParameter(`${source}: ${msg}`);
  if (Buffer.byteLength(text) > MAX_KUBECONFIG_BYTES) throw fail(`larger than ${MAX_KUBECONFIG_BYTES / 1024 / 1024} MiB`);
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true });
  const syntax = doc.errors[0];
  if (syntax !== undefined) throw fail(`invalid YAML: ${syntax.message.split("\n")[0] ?? ""}`);
  const root: unknown = doc.toJS({ maxAliasCount: 100 });
  if (!isObj(root)) throw fail("not a kubeconfig (expected a map with clusters, users and contexts)");
  if (root.kind !== undefined && root.kind !== "Config") throw fail(`kind is ${JSON.stringify(root.kind)}, expected "Config"`);

  const named = (field: "clusters" | "users" | "contexts", inner: "cluster" | "user" | "context"): Map<string, Obj> => {
    const list = root[field] ?? [];
    if (!Array.isArray(list)) throw fail(`${field}: expected a list`);
    const out = new Map<string, Obj>();
    for (const [i, item] of list.entries()) {
      if (!isObj(item) || typeof item.name !== "string" || item.name === "") throw fail(`${field}[${i}]: expected a map with a name`);
      if (out.has(item.name)) throw fail(`${field}: ${JSON.stringify(item.name)} is listed twice`);
      const body = item[inner] ?? {};
      if (!isObj(body)) throw fail(`${field}[${i}] ${JSON.stringify(item.name)}: ${inner}: expected a map`);
      out.set(item.name, body);
    }
    return out;
  };
  const clusters = named("clusters", "cluster");
  const users = named("users", "user");
  const contexts = named("contexts", "context");
  if (contexts.size === 0) throw fail("no contexts: each context becomes a Kubernetes cluster in Jumpgate");

  const baseDir = o.baseDir ?? (o.source !== undefined ? dirname(resolve(o.source)) : process.cwd());
  const read = o.readFile ?? ((p: string) => readFileSync(p, "utf8"));
  const out: KubeClusterConfig[] = [];
  for (const [name, ctx] of contexts) {
    const where = `context ${JSON.stringify(name)}`;
    const cfail = (msg: string) => fail(`${where}: ${msg}`);
    if (!isValidKubeClusterName(name)) throw cfail(`cannot be a Jumpgate cluster name: ${KUBE_CLUSTER_NAME_PROBLEM}; rename the context`);
    const clusterName = ctx.cluster;
    const userName = ctx.user;
    if (typeof clusterName !== "string" || clusterName === "") throw cfail("names no cluster");
    if (typeof userName !== "string" || userName === "") throw cfail("names no user (the credentials the Kubernetes Service uses)");
    const cluster = clusters.get(clusterName);
    if (!cluster) throw cfail(`cluster ${JSON.stringify(clusterName)} is not in the clusters list`);
    const user = users.get(userName);
    if (!user) throw cfail(`user ${JSON.stringify(userName)} is not in the users list`);
    const file = (field: string, path: unknown, what: string): string => {
      if (typeof path !== "string" || path === "") throw cfail(`${field}: expected a file path`);
      const p = isAbsolute(path) ? path : resolve(baseDir, path);
      try {
        return read(p);
      } catch (e) {
        throw cfail(`cannot read the ${what} ${p} (${field}): ${(e as { code?: string }).code ?? String(e)}`);
      }
    };
    const data = (field: string, v: unknown): string => {
      if (typeof v !== "string") throw cfail(`${field}: expected base64 text`);
      const compact = v.replace(/\s+/g, "");
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(compact)) throw cfail(`${field}: not valid base64`);
      return Buffer.from(compact, "base64").toString("utf8");
    };
    const pem = (field: string, text: string, marker: RegExp, what: string): string => {
      if (!marker.test(text)) throw cfail(`${field}: not a PEM ${what}`);
      return text;
    };

    // The cluster: server, CA, TLS options.
    const cw = `cluster ${JSON.stringify(clusterName)}`;
    const server = cluster.server;
    if (typeof server !== "string" || server === "") throw cfail(`${cw} has no server`);
    let url: URL;
    try {
      url = new URL(server);
    } catch {
      throw cfail(`${cw}: invalid server ${JSON.stringify(server)}: use https://HOST[:PORT]`);
    }
    if (url.protocol !== "https:" && url.protocol !== "http:") throw cfail(`${cw}: invalid server ${JSON.stringify(server)}: use https://HOST[:PORT]`);
    if (url.username !== "" || url.password !== "") throw cfail(`${cw}: credentials do not belong in the server URL`);
    if ((url.pathname !== "/" && url.pathname !== "") || url.search !== "")
      throw cfail(`${cw}: server ${JSON.stringify(server)}: a path in the server URL is not supported`);
    if (cluster["proxy-url"] !== undefined) throw cfail(`${cw}: proxy-url is not supported; the Kubernetes Service must reach the API server directly`);
    const CERT = /-----BEGIN CERTIFICATE-----/;
    let ca: string | undefined;
    if (cluster["certificate-authority-data"] !== undefined)
      ca = pem(`${cw}: certificate-authority-data`, data(`${cw}: certificate-authority-data`, cluster["certificate-authority-data"]), CERT, "certificate");
    else if (cluster["certificate-authority"] !== undefined)
      ca = pem(`${cw}: certificate-authority`, file("certificate-authority", cluster["certificate-authority"], "CA certificate"), CERT, "certificate");
    const insecure = cluster["insecure-skip-tls-verify"];
    if (insecure !== undefined && typeof insecure !== "boolean") throw cfail(`${cw}: insecure-skip-tls-verify: expected true or false`);
    if (insecure === true && ca !== undefined) throw cfail(`${cw}: a CA and insecure-skip-tls-verify together make no sense; drop one`);
    const tlsServerName = cluster["tls-server-name"];
    if (tlsServerName !== undefined && (typeof tlsServerName !== "string" || tlsServerName === "")) throw cfail(`${cw}: tls-server-name: expected a host name`);

    // The user: the service's own credentials.
    const uw = `user ${JSON.stringify(userName)}`;
    if (user.exec !== undefined)
      throw cfail(
        `${uw} uses an exec credential plugin, which Jumpgate does not support; give the Kubernetes Service a client certificate or a token (for example a service account token)`,
      );
    if (user["auth-provider"] !== undefined)
      throw cfail(
        `${uw} uses an auth-provider plugin, which Jumpgate does not support; give the Kubernetes Service a client certificate or a token (for example a service account token)`,
      );
    if (user.username !== undefined || user.password !== undefined)
      throw cfail(`${uw}: basic authentication (username/password) is not supported; use a client certificate or a token`);
    for (const f of ["as", "as-uid", "as-groups", "as-user-extra"]) {
      if (user[f] !== undefined) throw cfail(`${uw}: ${f} is not supported: the Kubernetes Service impersonates each Jumpgate user itself`);
    }
    const hasCert = user["client-certificate-data"] !== undefined || user["client-certificate"] !== undefined;
    const hasKey = user["client-key-data"] !== undefined || user["client-key"] !== undefined;
    const hasToken = user.token !== undefined || user.tokenFile !== undefined;
    let credentials: KubeCredentials;
    if (hasCert || hasKey) {
      if (!(hasCert && hasKey)) throw cfail(`${uw}: a client certificate needs its key (client-certificate and client-key, or their -data forms)`);
      const cert =
        user["client-certificate-data"] !== undefined
          ? data(`${uw}: client-certificate-data`, user["client-certificate-data"])
          : file("client-certificate", user["client-certificate"], "client certificate");
      const key =
        user["client-key-data"] !== undefined ? data(`${uw}: client-key-data`, user["client-key-data"]) : file("client-key", user["client-key"], "client key");
      credentials = {
        kind: "client-cert",
        cert: pem(`${uw}: client certificate`, cert, CERT, "certificate"),
        key: pem(`${uw}: client key`, key, /-----BEGIN [A-Z ]*PRIVATE KEY-----/, "private key"),
      };
    } else if (hasToken) {
      if (user.token !== undefined) {
        if (typeof user.token !== "string" || user.token === "" || /[\s\0]/.test(user.token)) throw cfail(`${uw}: token: expected a bearer token`);
        credentials = { kind: "token", token: user.token };
      } else {
        if (typeof user.tokenFile !== "string" || user.tokenFile === "") throw cfail(`${uw}: tokenFile: expected a file path`);
        const path = isAbsolute(user.tokenFile) ? user.tokenFile : resolve(baseDir, user.tokenFile);
        // Read once now, so a wrong path is found at start; the forwarder reads it again as it changes.
        if (file("tokenFile", path, "token file").trim() === "") throw cfail(`${uw}: the token file ${path} is empty`);
        credentials = { kind: "token-file", path };
      }
    } else {
      throw cfail(`${uw} has no credentials: give the Kubernetes Service a client certificate and key, or a token`);
    }

    out.push({
      name,
      server: url.origin,
      ...(ca !== undefined ? { ca } : {}),
      insecureSkipTlsVerify: insecure === true,
      ...(typeof tlsServerName === "string" ? { tlsServerName } : {}),
      credentials,
    });
  }
  return out;
}
