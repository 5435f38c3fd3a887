/**
 * Kubernetes access for jsh: the clusters a user may reach, logging in to one
 * (a certificate whose identity names it, and a kubeconfig context that uses
 * it), and where those certificates live in the profile, next to the app ones:
 *
 *   keys/<proxy>/<user>-kube/<cluster>/<name>.key   private key for Kubernetes cluster <name> (0600)
 *   keys/<proxy>/<user>-kube/<cluster>/<name>.crt   its X.509 certificate (kubernetesCluster inside)
 *   keys/<proxy>/cas/<cluster>.pem                  the host CA: the kubeconfig pins it for the proxy
 *
 * The kubeconfig side is kubeconfig.ts.
 */
import { createPublicKey } from "node:crypto";
import { existsSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { AuthClient } from "../../api/authclient.ts";
import { storedFromProto } from "../../api/convert.ts";
import { badParameter, notFound } from "../../api/errors.ts";
import { kubeSni } from "../../api/kubewire.ts";
import { isValidKubeClusterName, KUBE_CLUSTER_NAME_PROBLEM, type KubeServer, kubeServerCluster } from "../../api/resources/index.ts";
import { decodeIdentity, generateEcdsaP256, sshPublicKeyLine } from "../crypto/index.ts";
import { writePrivate } from "./files.ts";
import {
  currentKubeContext,
  kubeContextName,
  kubeconfigEntryNames,
  kubeconfigPath,
  mergeKubeconfig,
  readKubeconfig,
  removeFromKubeconfig,
  writeKubeconfig,
} from "./kubeconfig.ts";
import { jshHome, keyPaths, loadCredentials, type Profile } from "./profile.ts";

/** A Kubernetes cluster as `jsh kube ls` shows it. */
export interface KubeClusterInfo {
  name: string;
  labels: Record<string, string>;
}

const safe = (s: string) => s.replace(/[^A-Za-z0-9._@-]/g, "_");

export function kubeCertDir(p: Pick<Profile, "proxy" | "user" | "cluster">, home = jshHome()): string {
  return join(keyPaths(p, home).dir, `${safe(p.user)}-kube`, safe(p.cluster));
}

export interface KubeCertPaths {
  key: string;
  cert: string;
}

export function kubeCertPaths(p: Pick<Profile, "proxy" | "user" | "cluster">, name: string, home = jshHome()): KubeCertPaths {
  const dir = kubeCertDir(p, home);
  return { key: join(dir, `${safe(name)}.key`), cert: join(dir, `${safe(name)}.crt`) };
}

/** One row per cluster from `kube_server` entries (several services may serve one), sorted. */
export function kubeClustersFromServers(servers: KubeServer[]): KubeClusterInfo[] {
  const byName = new Map<string, KubeClusterInfo>();
  for (const s of servers) {
    const { cluster, labels } = kubeServerCluster(s);
    if (!byName.has(cluster.metadata.name)) byName.set(cluster.metadata.name, { name: cluster.metadata.name, labels });
  }
  return [...byName.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/** The clusters the user may see: Auth lists only the kube_server entries whose cluster the roles' kubernetes_labels allow. */
export async function listKubeClusters(auth: AuthClient): Promise<KubeClusterInfo[]> {
  const r = await auth.listResources({ kind: "kube_server" });
  return kubeClustersFromServers(r.resources.map((x) => storedFromProto(x) as unknown as KubeServer));
}

/** Which of `names` (Kubernetes clusters of this profile's cluster) kubectl's current context is; undefined for any other context. */
export function selectedKubeCluster(p: Pick<Profile, "cluster">, names: readonly string[], kubeconfig = kubeconfigPath()): string | undefined {
  const current = currentKubeContext(readKubeconfig(kubeconfig));
  return current === undefined ? undefined : names.find((n) => kubeContextName(p.cluster, n) === current);
}

/** Names of the Kubernetes clusters with a saved certificate. */
export function listKubeCerts(p: Profile, home = jshHome()): string[] {
  const dir = kubeCertDir(p, home);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith(".crt"))
    .map((f) => f.slice(0, -4))
    .filter(isValidKubeClusterName)
    .sort();
}

export interface KubeLoginOptions {
  /** The kube_cluster name. */
  cluster: string;
  /** The proxy's public address (its ping's `proxy.public_addr`): kubectl names `kube.<its host>`. */
  proxyPublicAddr: string;
  /** Requested lifetime; Auth caps it by the roles and the profile's own certificate. */
  ttlSeconds?: number;
  /** The kubeconfig to merge into; default `kubeconfigPath()`. */
  kubeconfig?: string;
}

export interface KubeLogin {
  cluster: string;
  /** The context (and cluster and user entry) name in the kubeconfig. */
  context: string;
  kubeconfig: string;
  paths: KubeCertPaths;
  expires: Date;
}

/**
 * `jsh kube login`: a new key pair and a certificate naming one Kubernetes
 * cluster (Auth refuses a cluster the roles do not allow, with the reason),
 * saved in the profile, then a kubeconfig context for it made current.
 */
export async function kubeLogin(auth: AuthClient, p: Profile, o: KubeLoginOptions, home = jshHome()): Promise<KubeLogin> {
  if (!isValidKubeClusterName(o.cluster)) throw badParameter(`"${o.cluster}": ${KUBE_CLUSTER_NAME_PROBLEM}`);
  const creds = loadCredentials(p, home);
  if (creds.hostCaCerts.length === 0) throw notFound(`the host CA of ${p.cluster} is missing from your profile; run: jsh login --proxy=${p.proxy}`);
  const key = generateEcdsaP256();
  const certs = await auth.generateUserCerts({
    sshPublicKey: sshPublicKeyLine(createPublicKey(creds.sshKey)),
    tlsPublicKey: key.publicKey.export({ format: "pem", type: "spki" }).toString(),
    ttlSeconds: BigInt(o.ttlSeconds ?? 0),
    kubernetesCluster: o.cluster,
  });
  const id = decodeIdentity(certs.tlsCert);
  if (id.kubernetesCluster !== o.cluster) throw badParameter(`the certificate Auth issued for Kubernetes cluster ${o.cluster} does not name it`);
  const paths = kubeCertPaths(p, o.cluster, home);
  writePrivate(paths.key, key.privateKey.export({ format: "pem", type: "pkcs8" }).toString());
  writePrivate(paths.cert, certs.tlsCert.endsWith("\n") ? certs.tlsCert : `${certs.tlsCert}\n`);
  const kubeconfig = o.kubeconfig ?? kubeconfigPath();
  const context = kubeContextName(p.cluster, o.cluster);
  const merged = mergeKubeconfig(
    readKubeconfig(kubeconfig),
    {
      name: context,
      server: `https://${p.proxy}`,
      tlsServerName: kubeSni(o.proxyPublicAddr),
      caPems: creds.hostCaCerts,
      clientCertificate: paths.cert,
      clientKey: paths.key,
    },
    kubeconfig,
  );
  writeKubeconfig(kubeconfig, merged);
  return { cluster: o.cluster, context, kubeconfig, paths, expires: id.expires };
}

/**
 * `jsh kube logout [NAME]`: removes the certificates of one cluster (or of
 * all of this profile's) and their kubeconfig entries; returns the names removed.
 */
export function kubeLogout(p: Profile, name?: string, o: { kubeconfig?: string } = {}, home = jshHome()): string[] {
  const names = name === undefined ? listKubeCerts(p, home) : [name];
  const kubeconfig = o.kubeconfig ?? kubeconfigPath();
  const text = readKubeconfig(kubeconfig);
  const present = kubeconfigEntryNames(text);
  const removed = names.filter((n) => {
    const paths = kubeCertPaths(p, n, home);
    return existsSync(paths.cert) || existsSync(paths.key) || present.has(kubeContextName(p.cluster, n));
  });
  for (const n of names) {
    const paths = kubeCertPaths(p, n, home);
    rmSync(paths.cert, { force: true });
    rmSync(paths.key, { force: true });
  }
  // Last: a kubeconfig that cannot be read fails here, with the certificates gone already.
  const contexts = removed.map((n) => kubeContextName(p.cluster, n)).filter((c) => present.has(c));
  if (contexts.length > 0) writeKubeconfig(kubeconfig, removeFromKubeconfig(text, contexts, kubeconfig));
  return removed;
}
