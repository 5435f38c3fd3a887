/**
 * Reaching a Kubernetes Service that serves a cluster: its `kube_server`
 * heartbeats say which hosts serve it, their reverse tunnels carry the stream,
 * and the stream starts with the header the service reads first
 * (`api/kubewire.ts`).
 */
import type { Duplex } from "node:stream";
import type { Logger } from "pino";
import { connectionProblem, isJumpgateError } from "../../../api/errors.ts";
import { encodeKubeHeader, KUBE_DIAL_PREFIX, type KubeConnHeader } from "../../../api/kubewire.ts";

/** A Kubernetes Service serving a cluster, from its `kube_server` heartbeat. */
export interface KubeServerRoute {
  /** The service's host id (its reverse tunnel is keyed by it). */
  hostId: string;
  /** The kube_cluster name. */
  cluster: string;
}

export interface KubeRoutes {
  /** Kubernetes Services that currently serve `cluster` and have a live tunnel here. */
  findServers(cluster: string): Promise<KubeServerRoute[]>;
  /** Opens a stream to a service (its reverse tunnel). */
  dial(server: KubeServerRoute, info: { clientAddr: string; target: string }): Promise<Duplex>;
}

export const noKubeServiceMessage = (cluster: string) => `Kubernetes cluster ${cluster} is not available: no Kubernetes Service serves it`;

/** Dials one of `servers` (random order) and writes the header. Fails with `connection-problem`. */
export async function openKubeStream(routes: KubeRoutes, header: KubeConnHeader, servers: KubeServerRoute[], log: Logger): Promise<Duplex> {
  if (servers.length === 0) throw connectionProblem(noKubeServiceMessage(header.cluster));
  const order = [...servers].sort(() => Math.random() - 0.5);
  let last: unknown;
  for (const srv of order) {
    try {
      const s = await routes.dial(srv, { clientAddr: header.clientAddr, target: `${KUBE_DIAL_PREFIX}${header.cluster}` });
      s.write(encodeKubeHeader(header));
      const sock = s as Duplex & { setNoDelay?: (v: boolean) => unknown };
      if (typeof sock.setNoDelay === "function") sock.setNoDelay(true);
      return s;
    } catch (e) {
      last = e;
      log.debug({ hostId: srv.hostId, cluster: header.cluster, err: String(e) }, "kube proxy: dial failed");
    }
  }
  throw connectionProblem(
    `cannot reach Kubernetes cluster ${header.cluster}: ${isJumpgateError(last) ? last.message : "no Kubernetes Service answered"}`,
    last,
  );
}
