/**
 * The user's kubeconfig, as `jsh kube login|logout` change it: one cluster,
 * one user and one context per Kubernetes cluster logged in to, all named
 * `<jumpgate cluster>-<kube cluster>`, merged into the file kubectl reads
 * (`$KUBECONFIG`'s first path, else `~/.kube/config`). Every other entry,
 * comment and field stays as it was; the file is written 0600.
 *
 *   clusters: [{name: N, cluster: {server: https://PROXY, tls-server-name: kube.HOST, certificate-authority-data: HOST CA}}]
 *   users:    [{name: N, user: {client-certificate: PATH, client-key: PATH}}]
 *   contexts: [{name: N, context: {cluster: N, user: N}}]
 *   current-context: N
 *
 * The edits are pure functions over the file's text; reading and writing the
 * file are separate.
 */
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, join } from "node:path";
import { Document, isMap, isScalar, isSeq, parseDocument, type YAMLSeq } from "yaml";
import { badParameter } from "../../api/errors.ts";
import { writePrivate } from "./files.ts";

/** What `jsh kube login` writes for one cluster. */
export interface KubeconfigEntry {
  /** The cluster, user and context name: `kubeContextName(...)`. */
  name: string;
  /** `https://<proxy host:port>`. */
  server: string;
  /** `kube.<proxy public host>`: the name the proxy routes kubectl by, and its certificate carries. */
  tlsServerName: string;
  /** PEM certificates kubectl trusts for the proxy (the cluster's host CA). */
  caPems: string[];
  clientCertificate: string;
  clientKey: string;
}

/** The name of the cluster, user and context for Kubernetes cluster `kubeCluster` of Jumpgate cluster `cluster`. */
export function kubeContextName(cluster: string, kubeCluster: string): string {
  return `${cluster}-${kubeCluster}`;
}

/** The kubeconfig kubectl reads first: `$KUBECONFIG`'s first path, else `~/.kube/config`. */
export function kubeconfigPath(env: NodeJS.ProcessEnv = process.env, home = homedir()): string {
  const first = (env.KUBECONFIG ?? "").split(delimiter).find((p) => p.trim() !== "");
  return first ?? join(home, ".kube", "config");
}

const LISTS = ["clusters", "contexts", "users"] as const;

function load(text: string, path: string): Document {
  const doc = parseDocument(text);
  const err = doc.errors[0];
  if (err) throw badParameter(`cannot read the kubeconfig ${path}: ${err.message.split("\n")[0] ?? "invalid YAML"}`);
  if (doc.contents === null || doc.contents === undefined) {
    // An empty file: start from what kubectl itself writes.
    return new Document({ apiVersion: "v1", clusters: [], contexts: [], "current-context": "", kind: "Config", preferences: {}, users: [] });
  }
  if (!isMap(doc.contents)) throw badParameter(`cannot read the kubeconfig ${path}: it is not a mapping`);
  return doc;
}

function list(doc: Document, key: (typeof LISTS)[number], create: boolean): YAMLSeq | undefined {
  const node = doc.get(key, true);
  if (isSeq(node)) return node;
  if (!create) return undefined;
  // Missing, or written as `clusters:` / `clusters: null`: a new list. Anything else is not ours to replace.
  if (node !== undefined && !(isScalar(node) && node.value === null)) {
    throw badParameter(`cannot update the kubeconfig: "${key}" is not a list`);
  }
  const seq = doc.createNode([]) as YAMLSeq;
  doc.set(key, seq);
  return seq;
}

const nameOf = (item: unknown): unknown => (isMap(item) ? item.get("name") : undefined);

/** `text` with the entry added, or replacing the cluster, user and context of the same name, and made current. */
export function mergeKubeconfig(text: string, e: KubeconfigEntry, path = "kubeconfig"): string {
  const doc = load(text, path);
  const bodies = {
    clusters: {
      name: e.name,
      cluster: {
        server: e.server,
        "tls-server-name": e.tlsServerName,
        "certificate-authority-data": Buffer.from(e.caPems.map((p) => (p.endsWith("\n") ? p : `${p}\n`)).join(""), "utf8").toString("base64"),
      },
    },
    users: { name: e.name, user: { "client-certificate": e.clientCertificate, "client-key": e.clientKey } },
    contexts: { name: e.name, context: { cluster: e.name, user: e.name } },
  };
  for (const key of LISTS) {
    const seq = list(doc, key, true) as YAMLSeq;
    const node = doc.createNode(bodies[key]);
    const at = seq.items.findIndex((it) => nameOf(it) === e.name);
    if (at >= 0) seq.items[at] = node;
    else seq.items.push(node);
  }
  doc.set("current-context", e.name);
  return doc.toString({ lineWidth: 0, indentSeq: false });
}

/** `text` without the clusters, users and contexts named `names` (and without current-context when it was one of them). */
export function removeFromKubeconfig(text: string, names: readonly string[], path = "kubeconfig"): string {
  if (text.trim() === "" || names.length === 0) return text;
  const doc = load(text, path);
  for (const key of LISTS) {
    const seq = list(doc, key, false);
    if (seq) seq.items = seq.items.filter((it) => !names.includes(String(nameOf(it))));
  }
  const current = doc.get("current-context");
  if (typeof current === "string" && names.includes(current)) doc.set("current-context", "");
  return doc.toString({ lineWidth: 0, indentSeq: false });
}

/** Names of the clusters, users and contexts in `text` (none when it cannot be read). */
export function kubeconfigEntryNames(text: string): Set<string> {
  const names = new Set<string>();
  if (text.trim() === "") return names;
  const doc = parseDocument(text);
  if (doc.errors.length > 0 || !isMap(doc.contents)) return names;
  for (const key of LISTS) {
    for (const it of list(doc, key, false)?.items ?? []) {
      const n = nameOf(it);
      if (typeof n === "string") names.add(n);
    }
  }
  return names;
}

/** The current context's name; undefined when there is none (or no file). */
export function currentKubeContext(text: string): string | undefined {
  if (text.trim() === "") return undefined;
  const doc = parseDocument(text);
  if (doc.errors.length > 0 || !isMap(doc.contents)) return undefined;
  const c = doc.get("current-context");
  return typeof c === "string" && c !== "" ? c : undefined;
}

export function readKubeconfig(path: string): string {
  return existsSync(path) ? readFileSync(path, "utf8") : "";
}

/** Writes the kubeconfig readable by its owner only (its folder 0700 when created). */
export function writeKubeconfig(path: string, text: string): void {
  writePrivate(path, text);
}
