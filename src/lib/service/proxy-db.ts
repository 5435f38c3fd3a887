import type { Logger } from "pino";
import type { AuthClient } from "../../api/authclient.ts";
import type { Clock } from "../../api/clock.ts";
import { storedFromProto } from "../../api/convert.ts";
import { type DatabaseServer, findLock, type Lock, lockMessage } from "../../api/resources/index.ts";
import { DbProxy, type DbServerRoute, type TunnelServer } from "../proxy/index.ts";
import { shortLived } from "./shortcache.ts";

const SERVER_CACHE_MS = 2_000;
const CA_REFRESH_MS = 5 * 60_000;
/** How long one read of the locks serves the next connections: a new lock takes effect at most this much later. */
const LOCKS_TTL_MS = 1_000;

/**
 * The proxy's database routes: client certificates checked against the user
 * CA, `db_server` heartbeats to find a Database Service, and its reverse
 * tunnel to reach it. `issueTls` gives the certificate the proxy presents to
 * database clients (host CA); it is renewed every `renewMs`.
 */
export async function startProxyDb(o: {
  auth: AuthClient;
  tunnels: Pick<TunnelServer, "dial">;
  issueTls: () => Promise<{ cert: string; key: string }>;
  renewMs: number;
  clock: Clock;
  log: Logger;
}): Promise<{ db: DbProxy; close(): void }> {
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
      .catch((e: unknown) => log.error({ err: String(e) }, "cannot renew the database proxy certificate"));
  }, o.renewMs);
  tlsTimer.unref();

  let servers: { at: number; list: DatabaseServer[] } | undefined;
  const listServers = async (): Promise<DatabaseServer[]> => {
    const now = o.clock.now().getTime();
    if (servers && now - servers.at < SERVER_CACHE_MS) return servers.list;
    const list = (await auth.listResources({ kind: "db_server" })).resources.map((r) => storedFromProto(r) as unknown as DatabaseServer);
    servers = { at: now, list };
    return list;
  };

  const readLocks = shortLived(LOCKS_TTL_MS, async () =>
    (await auth.listResources({ kind: "lock" })).resources.map((r) => storedFromProto(r) as unknown as Lock),
  );
  const db = new DbProxy({
    userCas: () => userCas,
    serverTls: () => serverTls,
    findServers: async (name): Promise<DbServerRoute[]> =>
      (await listServers())
        .filter((s) => s.spec.database.metadata.name === name)
        .map((s) => ({ hostId: s.spec.host_id, name, protocol: s.spec.database.spec.protocol, viaTunnel: true })),
    lockedBy: async (who) => {
      const locks = await readLocks("");
      const l = findLock(locks, who, o.clock.now());
      return l ? lockMessage(l) : undefined;
    },
    dial: (server, info) => o.tunnels.dial(server.hostId, info),
    onRefused: (r) => {
      void auth
        .emitAuditEvent({
          event: {
            event: "db.session.start",
            success: false,
            error: r.reason,
            ...(r.user ? { user: r.user } : {}),
            ...(r.database ? { db_service: r.database } : {}),
            db_protocol: r.protocol,
            addr_remote: r.clientAddr,
          },
        })
        .catch(() => undefined);
    },
    clock: o.clock,
    log: log.child({ component: "dbproxy" }),
  });
  return {
    db,
    close: () => {
      clearInterval(caTimer);
      clearInterval(tlsTimer);
    },
  };
}
