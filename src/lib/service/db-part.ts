import { generateKeyPairSync } from "node:crypto";
import { join } from "node:path";
import type { Logger } from "pino";
import { type AuthClient, createAuthClient } from "../../api/authclient.ts";
import { type Clock, systemClock } from "../../api/clock.ts";
import { VERSION } from "../../api/constants.ts";
import { storedFromProto, toProto } from "../../api/convert.ts";
import { badParameter } from "../../api/errors.ts";
import { type Database, dbServerName, findLock, type Lock, lockMessage, type Role } from "../../api/resources/index.ts";
import type { StoredResource } from "../../api/resource.ts";
import type { AuthServer } from "../auth/index.ts";
import type { Identity } from "../client/index.ts";
import { generateKeySet } from "../crypto/index.ts";
import { AuditQueue, CommandLabels, type CommandLabelSpec, Heartbeat } from "../srv/agent/index.ts";
import {
  type DatabaseTarget,
  DatabaseService,
  databaseTargetFromConfig,
  databaseTargetFromResource,
  type DbConfigEntry,
  defaultEngines,
} from "../srv/db/index.ts";
import { ReverseTunnelAgent } from "../tunnel/index.ts";
import { localHostIdentity } from "./auth-part.ts";
import { shortLived } from "./shortcache.ts";
import { hostUuid, writeIdentityFile } from "./identity.ts";
import { joinThroughProxy, secondsLeft } from "./join.ts";

const CHECK_MS = 10 * 60_000;
const RENEW_FRACTION = 1 / 3;
const HOST_TTL_S = 24 * 3600;
const RESOURCE_POLL_MS = 15_000;
const CA_REFRESH_MS = 5 * 60_000;
/**
 * How long the user, role and lock reads of one connection are reused by the
 * next ones (each connection reads them twice: at the door and at login). A new
 * lock takes effect on new connections at most this much later.
 */
const AUTH_READ_TTL_MS = 1_000;

/** A configured database with its command labels (`db_service.databases[]`). */
export type DbPartDatabase = DbConfigEntry & { description?: string | undefined; dynamic_labels: CommandLabelSpec[] };

export interface DbPartOptions {
  dataDir: string;
  nodeName: string;
  databases: DbPartDatabase[];
  /** `db_service.resources`: label matchers for `db` resources registered with jctl. */
  resources: { labels: Record<string, string> }[];
  log: Logger;
  /** Same process as Auth: certificates come from it directly, the tunnel goes to our own proxy. */
  local?: { server: AuthServer; authAddr: string; proxyAddr?: string; proxyCert?: string };
  /** A separate agent: joins and reaches Auth through this proxy. */
  join?: { proxyAddr: string; token?: string; insecure: boolean };
}

interface DbServiceOptions extends Omit<DbPartOptions, "local" | "join"> {
  hostId: string;
  identity: Identity;
  auth: { addr: string; viaProxy?: { insecure: boolean } };
  proxyAddr: string;
  proxyInsecure: boolean;
  proxyCas?: string[];
  clock: Clock;
}

/**
 * The Database Service with its host certificates kept fresh (as the SSH
 * service does: renewed between sessions). It has its own host id (kept in
 * `<data_dir>/db/host_uuid`): its reverse tunnel and `db_server` entries are
 * keyed by it, so it runs beside an SSH service in one process.
 */
export async function startDbPart(o: DbPartOptions): Promise<{ clusterName: string; hostId: string; close(): Promise<void> }> {
  const { log } = o;
  const hostId = hostUuid(join(o.dataDir, "db"));
  let identity: Identity;
  let clusterName: string;
  let base: Omit<DbServiceOptions, "identity">;
  const common = { dataDir: o.dataDir, nodeName: o.nodeName, databases: o.databases, resources: o.resources, log, hostId, clock: systemClock };
  let obtain: () => Promise<Identity>;
  if (o.local) {
    const l = o.local;
    if (!l.proxyAddr) throw badParameter("the Database Service needs a proxy to reach it (run the proxy here or set proxy_server)");
    obtain = async () => (await localHostIdentity(l.server, hostId, o.nodeName, "db", [])).identity;
    identity = await obtain();
    clusterName = l.server.clusterName;
    base = { ...common, auth: { addr: l.authAddr }, proxyAddr: l.proxyAddr, proxyInsecure: false, ...(l.proxyCert ? { proxyCas: [l.proxyCert] } : {}) };
  } else if (o.join) {
    const j = o.join;
    const path = join(o.dataDir, "db", "identity");
    const joined = await joinThroughProxy({ path, proxyAddr: j.proxyAddr, insecure: j.insecure, token: j.token, hostId, nodeName: o.nodeName, role: "db", dnsNames: [], log });
    identity = joined.identity;
    clusterName = joined.clusterName;
    base = { ...common, auth: { addr: j.proxyAddr, viaProxy: { insecure: j.insecure } }, proxyAddr: j.proxyAddr, proxyInsecure: j.insecure };
    obtain = async () => {
      const keys = generateKeySet();
      const client = authClientFor({ ...base, identity });
      try {
        const c = await client.generateHostCerts({ hostId, nodeName: o.nodeName, role: "db", sshPublicKey: keys.sshPublicKey, tlsPublicKey: keys.tlsPublicKey });
        const next: Identity = { sshKey: keys.ssh.privateKey, sshCert: c.sshCert, tlsKey: keys.tls.privateKey, tlsCert: c.tlsCert, tlsCas: c.hostCaCerts, knownHosts: [] };
        writeIdentityFile(path, next);
        return next;
      } finally {
        client.close();
      }
    };
  } else {
    throw badParameter("a Database Service without a local Auth Service needs --proxy HOST:PORT and --token TOKEN");
  }

  let running = await startDbService({ ...base, identity });
  let closed = false;
  const timer = setInterval(() => {
    if (closed || secondsLeft(identity) > HOST_TTL_S * RENEW_FRACTION) return;
    if (running.service.activeSessions() > 0) {
      log.info("Database Service certificates due for renewal; waiting for active sessions to end");
      return;
    }
    void (async () => {
      const next = await obtain();
      await running.close();
      identity = next;
      running = await startDbService({ ...base, identity });
      log.info("Database Service certificates renewed");
    })().catch((e: unknown) => log.error({ err: e instanceof Error ? e.message : String(e) }, "cannot renew Database Service certificates"));
  }, CHECK_MS);
  timer.unref();
  return {
    clusterName,
    hostId,
    close: async () => {
      closed = true;
      clearInterval(timer);
      await running.close();
    },
  };
}

function authClientFor(o: Pick<DbServiceOptions, "auth" | "identity">): AuthClient {
  const id = o.identity;
  return createAuthClient({
    addr: o.auth.addr,
    identity: { key: id.tlsKey.export({ format: "pem", type: "pkcs8" }).toString(), cert: id.tlsCert, cas: id.tlsCas },
    ...(o.auth.viaProxy ? { viaProxy: o.auth.viaProxy } : {}),
  });
}

/** Does a `db` resource match one of the service's label matchers? `"*": "*"` matches all. */
export function matchesResource(labels: Record<string, string>, matchers: { labels: Record<string, string> }[]): boolean {
  return matchers.some((m) =>
    Object.entries(m.labels).every(([k, v]) => (k === "*" && v === "*") || (labels[k] !== undefined && (v === "*" || labels[k] === v))),
  );
}

interface Served {
  target: DatabaseTarget;
  /** What the heartbeat announces as `spec.database` (no secrets). */
  resource: () => Database;
}

async function startDbService(o: DbServiceOptions): Promise<{ service: DatabaseService; close(): Promise<void> }> {
  const log = o.log.child({ component: "db" });
  const auth = authClientFor(o);
  const closers: (() => Promise<void> | void)[] = [() => auth.close()];
  const close = async () => {
    for (const c of closers.reverse()) await Promise.resolve(c()).catch(() => undefined);
  };
  try {
    let userCas = (await auth.exportAuthorities({ type: "user" })).tlsCerts;
    const caTimer = setInterval(() => {
      auth
        .exportAuthorities({ type: "user" })
        .then((r) => {
          userCas = r.tlsCerts;
        })
        .catch((e: unknown) => log.warn({ err: String(e) }, "cannot refresh the user CA"));
    }, CA_REFRESH_MS);
    caTimer.unref();
    closers.push(() => clearInterval(caTimer));

    const queue = new AuditQueue({
      path: join(o.dataDir, "db", "audit-queue.jsonl"),
      send: async (e) => {
        await auth.emitAuditEvent({ event: JSON.parse(JSON.stringify(e)) });
      },
      // A query is an event: at thousands a second, one call per batch instead of per event.
      sendBatch: async (events) => {
        await auth.emitAuditEvent({ events: JSON.parse(JSON.stringify(events)) });
      },
      log,
    });
    closers.push(() => queue.close());

    // Configured databases, each with its command labels.
    const served = new Map<string, Served>();
    const heartbeats = new Map<string, Heartbeat>();
    const announce = (name: string) => {
      const s = served.get(name);
      if (!s) return;
      let hb = heartbeats.get(name);
      if (!hb) {
        hb = new Heartbeat({
          build: () => dbServerResource(o, served.get(name)?.resource() ?? s.resource()),
          announce: async (r) => {
            await auth.upsertResource({ resource: toProto(r), overwrite: true });
          },
          clock: o.clock,
          log,
        });
        heartbeats.set(name, hb);
        void hb.start();
      } else hb.poke();
    };
    const withdraw = (name: string) => {
      heartbeats.get(name)?.stop();
      heartbeats.delete(name);
      served.delete(name);
      void auth.deleteResource({ kind: "db_server", name: dbServerName(name, o.hostId) }).catch(() => undefined);
    };
    closers.push(() => {
      for (const hb of heartbeats.values()) hb.stop();
    });

    for (const d of o.databases) {
      const labels = new CommandLabels(d.dynamic_labels, log, () => {
        refresh();
        announce(d.name);
      });
      const results = () => Object.fromEntries(Object.entries(labels.current()).flatMap(([k, v]) => (v.result === undefined ? [] : [[k, v.result]])));
      const refresh = () => {
        try {
          served.set(d.name, { target: databaseTargetFromConfig(d, results()), resource: () => configResource(d, labels) });
        } catch (e) {
          log.error({ db: d.name, err: e instanceof Error ? e.message : String(e) }, "cannot serve database");
        }
      };
      await labels.start();
      closers.push(() => labels.stop());
      refresh();
    }
    const staticNames = new Set(o.databases.map((d) => d.name));

    // Databases registered as `db` resources that match db_service.resources.
    const syncResources = async () => {
      const list = (await auth.listResources({ kind: "db" })).resources.map((r) => storedFromProto(r) as unknown as Database);
      const wanted = new Map<string, Database>();
      for (const db of list) {
        if (staticNames.has(db.metadata.name) || !matchesResource(db.metadata.labels ?? {}, o.resources)) continue;
        wanted.set(db.metadata.name, db);
      }
      for (const name of [...served.keys()]) if (!staticNames.has(name) && !wanted.has(name)) withdraw(name);
      for (const [name, db] of wanted) {
        try {
          served.set(name, { target: databaseTargetFromResource(db), resource: () => publicResource(db) });
          announce(name);
        } catch (e) {
          log.error({ db: name, err: e instanceof Error ? e.message : String(e) }, "cannot serve database");
        }
      }
    };
    if (o.resources.length > 0) {
      await syncResources().catch((e: unknown) => log.warn({ err: String(e) }, "cannot list db resources"));
      const t = setInterval(() => void syncResources().catch((e: unknown) => log.warn({ err: String(e) }, "cannot list db resources")), RESOURCE_POLL_MS);
      t.unref();
      closers.push(() => clearInterval(t));
    }

    const readUser = shortLived(AUTH_READ_TTL_MS, async (name) => {
      const u = storedFromProto(await auth.getResource({ kind: "user", name }));
      const spec = u.spec as { roles: string[]; traits: Record<string, string[]> };
      return { roles: spec.roles, traits: spec.traits ?? {} };
    });
    const readRole = shortLived(AUTH_READ_TTL_MS, async (name) => storedFromProto(await auth.getResource({ kind: "role", name })) as unknown as Role);
    const readLocks = shortLived(AUTH_READ_TTL_MS, async () =>
      (await auth.listResources({ kind: "lock" })).resources.map((r) => storedFromProto(r) as unknown as Lock),
    );
    const service = new DatabaseService({
      hostId: o.hostId,
      nodeName: o.nodeName,
      databases: () => [...served.values()].map((s) => s.target),
      engines: defaultEngines(),
      userCas: () => userCas,
      getUser: async (name) => {
        try {
          return await readUser(name);
        } catch {
          return undefined;
        }
      },
      getRole: async (name) => {
        try {
          return await readRole(name);
        } catch {
          return undefined;
        }
      },
      lockedBy: async (who) => {
        const locks = await readLocks("");
        const l = findLock(locks, { ...who, node: o.hostId }, o.clock.now());
        return l ? lockMessage(l) : undefined;
      },
      serverCredentials: async (dbUser, database) => {
        const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
        const c = await auth.generateDatabaseCert({
          tlsPublicKey: publicKey.export({ format: "pem", type: "spki" }).toString(),
          dbUser,
          database: database.name,
        });
        return { cert: c.cert, key: privateKey.export({ format: "pem", type: "pkcs8" }).toString(), cas: c.caCerts };
      },
      audit: (e) => queue.emit(e),
      clock: o.clock,
      log,
    });
    closers.push(() => service.close());

    const agent = new ReverseTunnelAgent({
      proxyAddr: o.proxyAddr,
      tls: { insecure: o.proxyInsecure, ...(o.proxyCas ? { cas: o.proxyCas } : {}) },
      backoff: { baseMs: 100, capMs: 30_000 },
      hostId: o.hostId,
      hostKey: o.identity.sshKey,
      hostCertificate: o.identity.sshCert,
      onDial: (stream, info) => {
        if (!info.target.startsWith("db:")) {
          stream.destroy();
          return;
        }
        void service.handleConnection(stream, { clientAddr: info.clientAddr, target: info.target });
      },
      clock: o.clock,
      log,
    });
    agent.start();
    closers.push(() => agent.close());

    for (const name of served.keys()) announce(name);
    return { service, close };
  } catch (e) {
    await close();
    throw e;
  }
}

function dbServerResource(o: Pick<DbServiceOptions, "hostId" | "nodeName">, database: Database): StoredResource {
  return {
    kind: "db_server",
    version: "v3",
    metadata: { name: dbServerName(database.metadata.name, o.hostId) },
    spec: { host_id: o.hostId, hostname: o.nodeName, version: VERSION, database },
  } as unknown as StoredResource;
}

function configResource(d: DbPartDatabase, labels: CommandLabels): Database {
  const dynamic = Object.fromEntries(
    Object.entries(labels.current()).map(([k, v]) => [
      k,
      { command: v.command, period: `${Math.round(v.periodMs / 1000)}s`, ...(v.result !== undefined ? { result: v.result } : {}) },
    ]),
  );
  return {
    kind: "db",
    version: "v3",
    metadata: { name: d.name, labels: { ...d.static_labels }, ...(d.description ? { description: d.description } : {}) },
    spec: {
      protocol: d.protocol,
      uri: d.uri,
      ...(Object.keys(dynamic).length > 0 ? { dynamic_labels: dynamic } : {}),
      ...(d.credentials ? { auth: { type: "password", user: d.credentials.username, password_file: d.credentials.password_file } } : {}),
    },
  } as unknown as Database;
}

/** A registered database as announced: what the resource says, minus nothing secret (files and variables are names, not values). */
function publicResource(db: Database): Database {
  return { kind: "db", version: "v3", metadata: { name: db.metadata.name, labels: { ...(db.metadata.labels ?? {}) } }, spec: db.spec } as unknown as Database;
}
