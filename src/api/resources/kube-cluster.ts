/**
 * `kube_cluster` v3: a Kubernetes cluster a Kubernetes Service serves, in
 * Teleport's shape (`tctl get kube_cluster` output loads). A service announces
 * one per kubeconfig context (the context's name is the cluster's name); an
 * administrator may also register one with `jctl create -f`.
 *
 *   kind: kube_cluster
 *   version: v3
 *   metadata: {name: dev, labels: {env: dev}}
 *   spec:
 *     dynamic_labels: {version: {period: 1h, command: [kubectl, version, --short]}}
 *     kubeconfig: …          # Teleport's inline credentials: accepted, ignored
 */
import { z } from "zod";
import { duration, metadata, nonEmptyStringList, str, strict } from "./schema.ts";

/** Cluster names become `kubectl` context names and DNS labels: lowercase letters, digits and '-'. */
const KUBE_CLUSTER_NAME = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
export const KUBE_CLUSTER_NAME_PROBLEM =
  "a Kubernetes cluster name must be 1 to 63 lowercase letters, digits or '-', starting and ending with a letter or digit (a DNS label)";

export function isValidKubeClusterName(name: string): boolean {
  return KUBE_CLUSTER_NAME.test(name);
}

const dynamicLabel = strict({
  period: duration,
  command: nonEmptyStringList,
  result: str.optional(),
});

/** Teleport fields Jumpgate does not use: accepted so exported resources load, not evaluated. */
const ignored = z.unknown().optional();

export const kubeClusterSpec = strict({
  dynamic_labels: z.record(str, dynamicLabel).optional(),
  /** Teleport's base64 kubeconfig for dynamically registered clusters; the service's own kubeconfig is used. */
  kubeconfig: ignored,
  aws: ignored,
  azure: ignored,
  gcp: ignored,
});

export const kubeClusterSchema = strict({
  kind: z.literal("kube_cluster"),
  version: z.literal("v3"),
  sub_kind: str.optional(),
  metadata,
  spec: kubeClusterSpec.prefault({}),
}).superRefine((c, ctx) => {
  if (!isValidKubeClusterName(c.metadata.name)) ctx.addIssue({ code: "custom", path: ["metadata", "name"], message: KUBE_CLUSTER_NAME_PROBLEM });
});

export type KubeCluster = z.output<typeof kubeClusterSchema>;
export type KubeClusterInput = z.input<typeof kubeClusterSchema>;

/** Static labels plus dynamic (command) label results: what role kubernetes_labels are matched against. */
export function kubeClusterLabels(c: Pick<KubeCluster, "metadata" | "spec">): Record<string, string> {
  const out: Record<string, string> = { ...(c.metadata.labels ?? {}) };
  for (const [key, label] of Object.entries(c.spec.dynamic_labels ?? {})) {
    if (label.result !== undefined) out[key] = label.result;
  }
  return out;
}
