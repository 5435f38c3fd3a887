import { join } from "node:path";
import type { Duplex } from "node:stream";
import type { Logger } from "pino";
import { VERSION } from "../../api/constants.ts";
import { badParameter } from "../../api/errors.ts";
import { KUBE_DIAL_PREFIX } from "../../api/kubewire.ts";
import type { StoredResource } from "../../api/resource.ts";
import { isValidKubeClusterName, KUBE_CLUSTER_NAME_PROBLEM, kubeServerName } from "../../api/resources/index.ts";
import { createSpoolRecorderFactory, type RecorderFactory, RecordingUploader } from "../events/index.ts";
import { type CommandLabelSpec, CommandLabels } from "../srv/agent/index.ts";
import { type KubeClusterConfig, KubeForwarder, KubeService, loadKubeconfig } from "../srv/kube/index.ts";
import { type AgentContext, type AgentJoin, type AgentLocal, announcedLabels, startAgentPart } from "./agent-part.ts";

/** Below this the certificates are renewed even with streams open (kubectl keeps watches and exec sessions open for long). */
const FORCE_RENEW_FRACTION = 1 / 6;

export interface KubePartOptions {
  dataDir: string;
  nodeName: string;
  /** `kubernetes_service.kubeconfig_file`: every context is a cluster, reached with the service's own credentials. */
  kubeconfigFile?: string | undefined;
  /** `kubernetes_service.kube_cluster_name`: the Jumpgate name of the kubeconfig's only context. */
  kubeClusterName?: string | undefined;
  /** `kubernetes_service.static_labels` and `dynamic_labels`: the labels of every cluster served. */
  staticLabels: Record<string, string>;
  dynamicLabels: CommandLabelSpec[];
  log: Logger;
  /** Same process as Auth: certificates come from it directly, the tunnel goes to our own proxy. */
  local?: AgentLocal;
  /** A separate agent: joins and reaches Auth through this proxy. */
  join?: AgentJoin;
  /** How often watches and exec sessions in progress are checked for expiry and locks; default 5 s. */
  watchMs?: number;
}

export interface KubePart {
  clusterName: string;
  hostId: string;
  /** The Kubernetes clusters served (kubeconfig contexts). */
  clusters: string[];
  /** A stream that did not come through the tunnel (a direct connection, a test): served like a tunnel dial. */
  handleConnection(stream: Duplex, info: { clientAddr: string; target?: string }): Promise<void>;
  close(): Promise<void>;
}

/**
 * The clusters of `kubernetes_service`: the kubeconfig's contexts, the only
 * one renamed when `kube_cluster_name` is set.
 */
export function kubeClustersFromConfig(file: string | undefined, rename?: string): KubeClusterConfig[] {
  if (!file) throw badParameter("kubernetes_service.kubeconfig_file is required: the kubeconfig whose contexts the Kubernetes Service serves");
  const clusters = loadKubeconfig(file);
  if (rename === undefined) return clusters;
  const only = clusters[0];
  if (clusters.length !== 1 || !only) {
    throw badParameter(
      `kubernetes_service.kube_cluster_name names the only context of a kubeconfig, but ${file} has ${clusters.length} (${clusters.map((c) => c.name).join(", ")}): drop kube_cluster_name and rename the contexts instead`,
    );
  }
  if (!isValidKubeClusterName(rename)) throw badParameter(`kubernetes_service.kube_cluster_name: ${KUBE_CLUSTER_NAME_PROBLEM}`);
  return [{ ...only, name: rename }];
}

/**
 * The Kubernetes Service (DESIGN §6) as a part of the daemon: its own host id
 * (`<data_dir>/kube/host_uuid`), one `KubeForwarder` and one `kube_server`
 * entry per kubeconfig context, and the proxy's `kube:CLUSTER` streams served
 * through its reverse tunnel. Exec sessions are recorded as the SSH service
 * records: spooled under `<data_dir>/kube/recordings` and uploaded to Auth.
 */
export async function startKubePart(o: KubePartOptions): Promise<KubePart> {
  // Read before joining: a wrong kubeconfig is reported at once, not after a token is spent.
  const clusters = kubeClustersFromConfig(o.kubeconfigFile, o.kubeClusterName);
  const part = await startAgentPart({
    role: "kube",
    title: "Kubernetes Service",
    dataDir: o.dataDir,
    nodeName: o.nodeName,
    log: o.log,
    ...(o.local ? { local: o.local } : {}),
    ...(o.join ? { join: o.join } : {}),
    dialPrefix: KUBE_DIAL_PREFIX,
    forceRenewFraction: FORCE_RENEW_FRACTION,
    start: (ctx) => startKubeService(o, clusters, ctx),
  });
  return {
    clusterName: part.clusterName,
    hostId: part.hostId,
    clusters: clusters.map((c) => c.name),
    handleConnection: part.handleConnection,
    close: part.close,
  };
}

async function startKubeService(o: KubePartOptions, clusters: KubeClusterConfig[], ctx: AgentContext): Promise<KubeService> {
  const { log } = ctx;
  const recorders = await spoolRecorders(ctx);

  const forwarders = new Map<string, KubeForwarder>();
  const labels = new CommandLabels(o.dynamicLabels, log, () => {
    for (const name of forwarders.keys()) entries.announce(name);
  });
  const entries = ctx.announcer({
    kind: "kube_server",
    entryName: (name) => kubeServerName(name, ctx.hostId),
    build: (name) => (forwarders.has(name) ? kubeServerResource(ctx, name, o.staticLabels, labels) : undefined),
  });
  // Static labels plus command results: what roles' kubernetes_labels are matched against.
  const current = () => {
    const out = { ...o.staticLabels };
    for (const [k, v] of Object.entries(labels.current())) if (v.result !== undefined) out[k] = v.result;
    return out;
  };
  ctx.onClose(() => {
    for (const f of forwarders.values()) f.close();
  });
  for (const cluster of clusters) {
    forwarders.set(
      cluster.name,
      new KubeForwarder({ cluster, labels: current, hostId: ctx.hostId, nodeName: o.nodeName, audit: ctx.audit, recorders, clock: ctx.clock, log }),
    );
  }
  await labels.start();
  ctx.onClose(() => labels.stop());

  const service = new KubeService({
    hostId: ctx.hostId,
    nodeName: o.nodeName,
    clusters: () => forwarders,
    userCas: ctx.userCas,
    ...ctx.reads,
    audit: ctx.audit,
    clock: ctx.clock,
    log,
    ...(o.watchMs !== undefined ? { watchMs: o.watchMs } : {}),
  });
  for (const name of forwarders.keys()) entries.announce(name);
  log.info({ clusters: [...forwarders.keys()] }, "serving Kubernetes clusters");
  return service;
}

/** Exec sessions recorded to spool files under `<dir>/recordings` and uploaded to Auth in parts (`jsh play SID`). */
async function spoolRecorders(ctx: AgentContext): Promise<RecorderFactory> {
  const dir = join(ctx.dir, "recordings");
  const uploader = new RecordingUploader({
    dir,
    upload: async (part) => {
      const r = await ctx.auth.uploadRecordingPart({
        sessionId: part.sessionId,
        offset: BigInt(part.offset),
        data: part.data,
        complete: part.complete,
        ...(part.metadata ? { metadata: JSON.parse(JSON.stringify(part.metadata)) } : {}),
      });
      return { size: Number(r.size) };
    },
    clock: ctx.clock,
    log: ctx.log,
  });
  await uploader.start();
  ctx.onClose(() => uploader.close());
  return createSpoolRecorderFactory({ dir, clock: ctx.clock, uploader, log: ctx.log });
}

function kubeServerResource(
  o: Pick<AgentContext, "hostId" | "nodeName">,
  name: string,
  staticLabels: Record<string, string>,
  labels: CommandLabels,
): StoredResource {
  const dynamic = announcedLabels(labels);
  return {
    kind: "kube_server",
    version: "v3",
    metadata: { name: kubeServerName(name, o.hostId) },
    spec: {
      host_id: o.hostId,
      hostname: o.nodeName,
      version: VERSION,
      cluster: {
        kind: "kube_cluster",
        version: "v3",
        metadata: { name, labels: { ...staticLabels } },
        spec: Object.keys(dynamic).length > 0 ? { dynamic_labels: dynamic } : {},
      },
    },
  } as unknown as StoredResource;
}
