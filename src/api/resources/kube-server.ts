/**
 * `kube_server` v3: what a Kubernetes Service heartbeats, once per cluster it
 * serves (Teleport's KubernetesServerV3 shape). Several services may serve the
 * same cluster, so the name is `<cluster name>@<host id>` (`kubeServerName`),
 * and the schema insists on it: a service writes only its own entries.
 *
 *   kind: kube_server
 *   version: v3
 *   metadata: {name: dev@3f1c…, expires: …}
 *   spec:
 *     host_id: 3f1c…
 *     hostname: kube-agent-1
 *     version: 0.1.0
 *     cluster: {kind: kube_cluster, version: v3, metadata: {name: dev, labels: {...}}, spec: {dynamic_labels: ...}}
 */
import { z } from "zod";
import { type KubeCluster, kubeClusterLabels, kubeClusterSchema } from "./kube-cluster.ts";
import { metadata, nonEmptyString, str, strict } from "./schema.ts";

export const kubeServerSchema = strict({
  kind: z.literal("kube_server"),
  version: z.literal("v3"),
  metadata,
  spec: strict({
    host_id: nonEmptyString,
    hostname: nonEmptyString,
    version: str.optional(),
    cluster: kubeClusterSchema,
    /** Teleport writes these; Jumpgate routes through the reverse tunnel of `host_id`. */
    proxy_ids: z.array(str).optional(),
    rotation: z.unknown().optional(),
  }),
}).superRefine((s, ctx) => {
  const want = kubeServerName(s.spec.cluster.metadata.name, s.spec.host_id);
  if (s.metadata.name !== want) {
    ctx.addIssue({ code: "custom", path: ["metadata", "name"], message: `must be "${want}" (cluster name @ host id)` });
  }
});

export type KubeServer = z.output<typeof kubeServerSchema>;
export type KubeServerInput = z.input<typeof kubeServerSchema>;

/** The name of the entry for cluster `cluster` served by host `hostId`. */
export function kubeServerName(cluster: string, hostId: string): string {
  return `${cluster}@${hostId}`;
}

/** The cluster an entry announces, and its labels (static plus command results). */
export function kubeServerCluster(s: Pick<KubeServer, "spec">): { cluster: KubeCluster; labels: Record<string, string> } {
  return { cluster: s.spec.cluster, labels: kubeClusterLabels(s.spec.cluster) };
}
