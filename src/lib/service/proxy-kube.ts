import type { Logger } from "pino";
import type { AuthClient } from "../../api/authclient.ts";
import type { Clock } from "../../api/clock.ts";
import { storedFromProto } from "../../api/convert.ts";
import { findLock, type KubeServer, type Lock, lockMessage } from "../../api/resources/index.ts";
import { KubeProxy, type KubeServerRoute, type RouteTls, type TunnelServer } from "../proxy/index.ts";
import { shortLived } from "./shortcache.ts";

const SERVER_CACHE_MS = 2_000;
const CA_REFRESH_MS = 5 * 60_000;
/** How long one read of the locks serves the next connections: a new lock takes effect at most this much later. */
const LOCKS_TTL_MS = 1_000;

/**
 * The proxy's Kubernetes route: `kube_server` heartbeats to find a Kubernetes
 * Service for a cluster, its reverse tunnel to reach it, the user CA and locks
 * to check kubectl's certificate. `issueTls` gives the certificate the route
 * presents (host CA, DNS name `kube.<proxy host>`: kubeconfigs from
 * `jsh kube login` pin the host CA), renewed every `renewMs`; `serverTls()`
 * returns it with the user CAs to name in the CertificateRequest, the same
 * object until one of them changes.
 */
export async function startProxyKube(o: {
  auth: AuthClient;
  tunnels: Pick<TunnelServer, "dial" | "agent">;
  issueTls: () => Promise<{ cert: string; key: string }>;
  renewMs: number;
  clock: Clock;
  log: Logger;
}): Promise<{ kube: KubeProxy; serverTls(): RouteTls; close(): void }> {
  const { auth, log } = o;
  let userCas: string[] = (await auth.exportAuthorities({ type: "user" })).tlsCerts;
  let pair = await o.issueTls();
  let routeTls: RouteTls = { ...pair, ca: userCas };
  const caTimer = setInterval(() => {
    auth
      .exportAuthorities({ type: "user" })
      .then((r) => {
        if (r.tlsCerts.join("\n") === userCas.join("\n")) return;
        userCas = r.tlsCerts;
        routeTls = { ...pair, ca: userCas };
      })
      .catch((e: unknown) => log.warn({ err: String(e) }, "cannot refresh the user CA"));
  }, CA_REFRESH_MS);
  caTimer.unref();
  const tlsTimer = setInterval(() => {
    o.issueTls()
      .then((t) => {
        pair = t;
        routeTls = { ...pair, ca: userCas };
      })
      .catch((e: unknown) => log.error({ err: String(e) }, "cannot renew the Kubernetes proxy certificate"));
  }, o.renewMs);
  tlsTimer.unref();

  const readServers = shortLived(SERVER_CACHE_MS, async () =>
    (await auth.listResources({ kind: "kube_server" })).resources.map((r) => storedFromProto(r) as unknown as KubeServer),
  );
  const readLocks = shortLived(LOCKS_TTL_MS, async () =>
    (await auth.listResources({ kind: "lock" })).resources.map((r) => storedFromProto(r) as unknown as Lock),
  );
  const kube = new KubeProxy({
    userCas: () => userCas,
    routes: {
      findServers: async (cluster): Promise<KubeServerRoute[]> =>
        (await readServers(""))
          // Only services with a live tunnel here: otherwise kubectl gets "not available" at once, not a dial timeout.
          .filter((s) => s.spec.cluster.metadata.name === cluster && o.tunnels.agent(s.spec.host_id) !== undefined)
          .map((s) => ({ hostId: s.spec.host_id, cluster })),
      dial: (server, info) => o.tunnels.dial(server.hostId, info),
    },
    lockedBy: async (who) => {
      const l = findLock(await readLocks(""), who, o.clock.now());
      return l ? lockMessage(l) : undefined;
    },
    onRefused: (r) => {
      void auth
        .emitAuditEvent({
          event: {
            event: "kube.request",
            success: false,
            error: r.reason,
            ...(r.user ? { user: r.user } : {}),
            ...(r.cluster ? { kubernetes_cluster: r.cluster } : {}),
            ...(r.request ? { verb: r.request.verb, request_path: r.request.path } : {}),
            response_code: r.code,
            addr_remote: r.clientAddr,
          },
        })
        .catch(() => undefined);
    },
    clock: o.clock,
    log: log.child({ component: "kubeproxy" }),
  });
  return {
    kube,
    serverTls: () => routeTls,
    close: () => {
      clearInterval(caTimer);
      clearInterval(tlsTimer);
    },
  };
}
