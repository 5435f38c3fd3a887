/**
 * `jsh kube ls|login|logout` (Teleport's `tsh kube` verbs). The work is in
 * lib/client (kubecerts.ts, kubeconfig.ts); this file parses flags and prints.
 */
import type { Command } from "commander";
import { notFound } from "../../api/errors.ts";
import {
  type AuthClient,
  currentProfile,
  type Format,
  type KubeClusterInfo,
  kubeLogin,
  kubeLogout,
  listKubeClusters,
  type Profile,
  parseFormat,
  ping,
  render,
  selectedKubeCluster,
  table,
  userAuthClient,
} from "../../lib/client/index.ts";

interface Globals {
  proxy?: string;
  format: string;
}

const labelText = (l: Record<string, string>) =>
  Object.entries(l)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${v}`)
    .join(",");

/** The table (or JSON/YAML) of `jsh kube ls`; `selected` is the cluster of kubectl's current context. */
export function renderKubeClusters(rows: KubeClusterInfo[], format: Format, selected?: string): string {
  const data = rows.map((r) => ({ name: r.name, labels: r.labels, selected: r.name === selected }));
  return render(data, format, () =>
    table(
      ["Name", "Labels", "Selected"],
      rows.map((r) => [r.name, labelText(r.labels), r.name === selected ? "*" : ""]),
    ),
  );
}

export const kubeLoginMessage = (cluster: string) => `Logged into Kubernetes cluster ${cluster}. Try: kubectl get pods`;

/** The proxy's public address as it announces it (kubectl names `kube.<its host>`); the profile's when it cannot say. */
async function proxyPublicAddr(p: Profile): Promise<string> {
  try {
    return (await ping(p.proxy, p.insecure)).proxy?.public_addr || p.proxy;
  } catch {
    return p.proxy;
  }
}

async function withAuth<T>(p: Profile, fn: (auth: AuthClient) => Promise<T>): Promise<T> {
  const auth = userAuthClient(p);
  try {
    return await fn(auth);
  } finally {
    auth.close();
  }
}

export function registerKubeCommands(program: Command, globals: () => Globals, print: (s: string) => void): void {
  const profile = () => currentProfile(globals().proxy);
  const kube = program.command("kube").description("Kubernetes clusters: list, log in (writes your kubeconfig), log out");

  kube
    .command("ls")
    .description("list the Kubernetes clusters you may reach (those your roles' kubernetes_labels match); * marks kubectl's current one")
    .action(async () => {
      const format = parseFormat(globals().format);
      const p = profile();
      const rows = await withAuth(p, (auth) => listKubeClusters(auth));
      print(
        renderKubeClusters(
          rows,
          format,
          selectedKubeCluster(
            p,
            rows.map((r) => r.name),
          ),
        ),
      );
    });

  kube
    .command("login <cluster>")
    .description("get a certificate for a Kubernetes cluster and make it kubectl's current context")
    .action(async (cluster: string) => {
      const p = profile();
      const publicAddr = await proxyPublicAddr(p);
      await withAuth(p, (auth) => kubeLogin(auth, p, { cluster, proxyPublicAddr: publicAddr }));
      print(kubeLoginMessage(cluster));
    });

  kube
    .command("logout [cluster]")
    .description("remove the certificate and kubeconfig entries of one Kubernetes cluster, or of all")
    .action((cluster: string | undefined) => {
      const removed = kubeLogout(profile(), cluster);
      if (cluster && removed.length === 0) throw notFound(`not logged in to Kubernetes cluster ${cluster}`);
      print(removed.length === 0 ? "Not logged in to any Kubernetes cluster." : `Logged out of Kubernetes cluster ${removed.join(", ")}.`);
    });
}
