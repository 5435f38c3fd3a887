import type { Logger } from "pino";
import type { AuthClient } from "../../api/authclient.ts";
import type { Clock } from "../../api/clock.ts";
import { storedFromProto } from "../../api/convert.ts";
import { type AppServer, findLock, type Lock, lockMessage } from "../../api/resources/index.ts";
import { AppProxy, type AppServerRoute, publicAddrIndex, type TunnelServer } from "../proxy/index.ts";
import { shortLived } from "./shortcache.ts";

const SERVER_CACHE_MS = 2_000;
const CA_REFRESH_MS = 5 * 60_000;
/** How long one read of the locks serves the next connections: a new lock takes effect at most this much later. */
const LOCKS_TTL_MS = 1_000;

/**
 * The proxy's application access: `app_server` heartbeats to find an
 * Application Service for an app (and the hosts of apps' own `public_addr`),
 * the reverse tunnel of that service to reach it, the user CA and locks for
 * `jsh proxy app`, and Auth's app sessions for browsers. `issueTls` gives the
 * certificate presented inside the `jumpgate-app` route (host CA), renewed
 * every `renewMs`.
 */
export async function startProxyApp(o: {
  auth: AuthClient;
  tunnels: Pick<TunnelServer, "dial" | "agent">;
  publicAddr: string;
  issueTls: () => Promise<{ cert: string; key: string }>;
  renewMs: number;
  clock: Clock;
  log: Logger;
}): Promise<{ app: AppProxy; close(): void }> {
  const { auth, log } = o;
  let userCas: string[] = (await auth.exportAuthorities({ type: "user" })).tlsCerts;
  let serverTls = await o.issueTls();
  const caTimer = setInterval(() => {
    auth
      .exportAuthorities({ type: "user" })
      .then((r) => {
        userCas = r.tlsCerts;
      })
      .catch((e: unknown) => log.warn({ err: String(e) }, "cannot refresh the user CA"));
  }, CA_REFRESH_MS);
  caTimer.unref();
  const tlsTimer = setInterval(() => {
    o.issueTls()
      .then((t) => {
        serverTls = t;
      })
      .catch((e: unknown) => log.error({ err: String(e) }, "cannot renew the app proxy certificate"));
  }, o.renewMs);
  tlsTimer.unref();

  // One read of the heartbeats serves routing and the public_addr hosts for SERVER_CACHE_MS.
  const readServers = shortLived(SERVER_CACHE_MS, async () => {
    const list = (await auth.listResources({ kind: "app_server" })).resources.map((r) => storedFromProto(r) as unknown as AppServer);
    const hosts = publicAddrIndex(list.map((s) => ({ name: s.spec.app.metadata.name, publicAddr: s.spec.app.spec.public_addr })));
    return { list, hosts };
  });
  const readLocks = shortLived(LOCKS_TTL_MS, async () =>
    (await auth.listResources({ kind: "lock" })).resources.map((r) => storedFromProto(r) as unknown as Lock),
  );
  const app = new AppProxy({
    proxyPublicAddr: o.publicAddr,
    auth,
    routes: {
      findServers: async (name): Promise<AppServerRoute[]> =>
        (await readServers("")).list
          // Only services with a live tunnel here: otherwise the user gets "no service" at once, not a dial timeout.
          .filter((s) => s.spec.app.metadata.name === name && o.tunnels.agent(s.spec.host_id) !== undefined)
          .map((s) => ({
            hostId: s.spec.host_id,
            app: name,
            ...(s.spec.app.spec.public_addr ? { publicAddr: s.spec.app.spec.public_addr } : {}),
          })),
      dial: (server, info) => o.tunnels.dial(server.hostId, info),
    },
    publicAddrs: async () => (await readServers("")).hosts,
    userCas: () => userCas,
    serverTls: () => serverTls,
    lockedBy: async (who) => {
      const l = findLock(await readLocks(""), who, o.clock.now());
      return l ? lockMessage(l) : undefined;
    },
    onRefused: (r) => {
      void auth
        .emitAuditEvent({
          event: {
            event: "app.session.start",
            success: false,
            error: r.reason,
            ...(r.user ? { user: r.user } : {}),
            ...(r.app ? { app_name: r.app } : {}),
            addr_remote: r.clientAddr,
          },
        })
        .catch(() => undefined);
    },
    clock: o.clock,
    log: log.child({ component: "appproxy" }),
  });
  return {
    app,
    close: () => {
      clearInterval(caTimer);
      clearInterval(tlsTimer);
      app.close();
    },
  };
}
