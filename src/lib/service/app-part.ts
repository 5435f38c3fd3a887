import { join } from "node:path";
import type { Duplex } from "node:stream";
import type { Logger } from "pino";
import { APP_DIAL_PREFIX } from "../../api/appwire.ts";
import { type AuthClient, createAuthClient } from "../../api/authclient.ts";
import { type Clock, systemClock } from "../../api/clock.ts";
import { VERSION } from "../../api/constants.ts";
import { storedFromProto, toProto } from "../../api/convert.ts";
import { badParameter } from "../../api/errors.ts";
import { type App, appServerName, findLock, type Lock, lockMessage, type Role } from "../../api/resources/index.ts";
import type { StoredResource } from "../../api/resource.ts";
import type { AuthServer } from "../auth/index.ts";
import type { Identity } from "../client/index.ts";
import { generateKeySet } from "../crypto/index.ts";
import { AuditQueue, CommandLabels, type CommandLabelSpec, Heartbeat } from "../srv/agent/index.ts";
import { type AppConfigEntry, type AppTarget, ApplicationService, appFromConfig, appTargetFromResource, publicApp } from "../srv/app/index.ts";
import { ReverseTunnelAgent } from "../tunnel/index.ts";
import { localHostIdentity } from "./auth-part.ts";
import { matchesResource } from "./db-part.ts";
import { hostUuid, writeIdentityFile } from "./identity.ts";
import { joinThroughProxy, secondsLeft } from "./join.ts";
import { shortLived } from "./shortcache.ts";

const CHECK_MS = 10 * 60_000;
const RENEW_FRACTION = 1 / 3;
/** Below this the certificates are renewed even with streams open (browsers keep some open for long). */
const FORCE_RENEW_FRACTION = 1 / 6;
const HOST_TTL_S = 24 * 3600;
const RESOURCE_POLL_MS = 15_000;
const CA_REFRESH_MS = 5 * 60_000;
/** How long user, role and lock reads are shared between streams and requests (a lock is seen at most this late). */
const AUTH_READ_TTL_MS = 1_000;

/** A configured app with its command labels (`app_service.apps[]`). */
export type AppPartApp = AppConfigEntry & { dynamic_labels: CommandLabelSpec[] };

export interface AppPartOptions {
  dataDir: string;
  nodeName: string;
  apps: AppPartApp[];
  /** `app_service.resources`: label matchers for `app` resources registered with jctl. */
  resources: { labels: Record<string, string> }[];
  /** `app_service.audit_requests`: one `app.session.request` event per HTTP request; default true. */
  auditRequests?: boolean;
  log: Logger;
  /** Same process as Auth: certificates come from it directly, the tunnel goes to our own proxy. */
  local?: { server: AuthServer; authAddr: string; proxyAddr?: string; proxyCert?: string };
  /** A separate agent: joins and reaches Auth through this proxy. */
  join?: { proxyAddr: string; token?: string; insecure: boolean };
}

interface AppServiceRunOptions extends Omit<AppPartOptions, "local" | "join"> {
  hostId: string;
  identity: Identity;
  auth: { addr: string; viaProxy?: { insecure: boolean } };
  proxyAddr: string;
  proxyInsecure: boolean;
  proxyCas?: string[];
  clock: Clock;
}

/**
 * The Application Service with its host certificates kept fresh (as the
 * Database Service does). It has its own host id (`<data_dir>/app/host_uuid`):
 * its reverse tunnel and `app_server` entries are keyed by it, so it runs
 * beside other services in one process.
 */
export interface AppPart {
  clusterName: string;
  hostId: string;
  /** A stream that did not come through the tunnel (a direct connection, a test): served like a tunnel dial. */
  handleConnection(stream: Duplex, info: { clientAddr: string; target?: string }): Promise<void>;
  close(): Promise<void>;
}

export async function startAppPart(o: AppPartOptions): Promise<AppPart> {
  const { log } = o;
  if (o.apps.length === 0 && o.resources.length === 0) {
    log.warn("the Application Service has no apps: list them in app_service.apps or match registered ones with app_service.resources");
  }
  const hostId = hostUuid(join(o.dataDir, "app"));
  let identity: Identity;
  let clusterName: string;
  let base: Omit<AppServiceRunOptions, "identity">;
  const common = {
    dataDir: o.dataDir,
    nodeName: o.nodeName,
    apps: o.apps,
    resources: o.resources,
    auditRequests: o.auditRequests ?? true,
    log,
    hostId,
    clock: systemClock,
  };
  let obtain: () => Promise<Identity>;
  if (o.local) {
    const l = o.local;
    if (!l.proxyAddr) throw badParameter("the Application Service needs a proxy to reach it (run the proxy here or set proxy_server)");
    obtain = async () => (await localHostIdentity(l.server, hostId, o.nodeName, "app", [])).identity;
    identity = await obtain();
    clusterName = l.server.clusterName;
    base = { ...common, auth: { addr: l.authAddr }, proxyAddr: l.proxyAddr, proxyInsecure: false, ...(l.proxyCert ? { proxyCas: [l.proxyCert] } : {}) };
  } else if (o.join) {
    const j = o.join;
    const path = join(o.dataDir, "app", "identity");
    const joined = await joinThroughProxy({ path, proxyAddr: j.proxyAddr, insecure: j.insecure, token: j.token, hostId, nodeName: o.nodeName, role: "app", dnsNames: [], log });
    identity = joined.identity;
    clusterName = joined.clusterName;
    base = { ...common, auth: { addr: j.proxyAddr, viaProxy: { insecure: j.insecure } }, proxyAddr: j.proxyAddr, proxyInsecure: j.insecure };
    obtain = async () => {
      const keys = generateKeySet();
      const client = authClientFor({ ...base, identity });
      try {
        const c = await client.generateHostCerts({ hostId, nodeName: o.nodeName, role: "app", sshPublicKey: keys.sshPublicKey, tlsPublicKey: keys.tlsPublicKey });
        const next: Identity = { sshKey: keys.ssh.privateKey, sshCert: c.sshCert, tlsKey: keys.tls.privateKey, tlsCert: c.tlsCert, tlsCas: c.hostCaCerts, knownHosts: [] };
        writeIdentityFile(path, next);
        return next;
      } finally {
        client.close();
      }
    };
  } else {
    throw badParameter("an Application Service without a local Auth Service needs --proxy HOST:PORT and --token TOKEN");
  }

  let running = await startAppService({ ...base, identity });
  let closed = false;
  const timer = setInterval(() => {
    const left = secondsLeft(identity);
    if (closed || left > HOST_TTL_S * RENEW_FRACTION) return;
    if (running.service.activeSessions() > 0 && left > HOST_TTL_S * FORCE_RENEW_FRACTION) {
      log.info("Application Service certificates due for renewal; waiting for open streams to end");
      return;
    }
    void (async () => {
      const next = await obtain();
      await running.close();
      identity = next;
      running = await startAppService({ ...base, identity });
      log.info("Application Service certificates renewed");
    })().catch((e: unknown) => log.error({ err: e instanceof Error ? e.message : String(e) }, "cannot renew Application Service certificates"));
  }, CHECK_MS);
  timer.unref();
  return {
    clusterName,
    hostId,
    handleConnection: (stream, info) => running.service.handleConnection(stream, info),
    close: async () => {
      closed = true;
      clearInterval(timer);
      await running.close();
    },
  };
}

function authClientFor(o: Pick<AppServiceRunOptions, "auth" | "identity">): AuthClient {
  const id = o.identity;
  return createAuthClient({
    addr: o.auth.addr,
    identity: { key: id.tlsKey.export({ format: "pem", type: "pkcs8" }).toString(), cert: id.tlsCert, cas: id.tlsCas },
    ...(o.auth.viaProxy ? { viaProxy: o.auth.viaProxy } : {}),
  });
}

interface Served {
  target: AppTarget;
  /** What the heartbeat announces as `spec.app`. */
  resource: App;
}

async function startAppService(o: AppServiceRunOptions): Promise<{ service: ApplicationService; close(): Promise<void> }> {
  const log = o.log.child({ component: "app" });
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
      path: join(o.dataDir, "app", "audit-queue.jsonl"),
      send: async (e) => {
        await auth.emitAuditEvent({ event: JSON.parse(JSON.stringify(e)) });
      },
      // One event per HTTP request: batches, as database queries do.
      sendBatch: async (events) => {
        await auth.emitAuditEvent({ events: JSON.parse(JSON.stringify(events)) });
      },
      log,
    });
    closers.push(() => queue.close());

    const served = new Map<string, Served>();
    const heartbeats = new Map<string, Heartbeat>();
    const announce = (name: string) => {
      const s = served.get(name);
      if (!s) return;
      let hb = heartbeats.get(name);
      if (!hb) {
        hb = new Heartbeat({
          build: () => appServerResource(o, served.get(name)?.resource ?? s.resource),
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
      void auth.deleteResource({ kind: "app_server", name: appServerName(name, o.hostId) }).catch(() => undefined);
    };
    closers.push(() => {
      for (const hb of heartbeats.values()) hb.stop();
    });

    // Configured apps, each with its command labels.
    for (const a of o.apps) {
      const labels = new CommandLabels(a.dynamic_labels, log, () => {
        refresh();
        announce(a.name);
      });
      const refresh = () => {
        try {
          const resource = appFromConfig(a, labels.current());
          served.set(a.name, { target: appTargetFromResource(resource), resource });
        } catch (e) {
          log.error({ app: a.name, err: e instanceof Error ? e.message : String(e) }, "cannot serve app");
        }
      };
      await labels.start();
      closers.push(() => labels.stop());
      refresh();
    }
    const staticNames = new Set(o.apps.map((a) => a.name));

    let service: ApplicationService | undefined;
    // Apps registered as `app` resources that match app_service.resources.
    const syncResources = async () => {
      const list = (await auth.listResources({ kind: "app" })).resources.map((r) => storedFromProto(r) as unknown as App);
      const wanted = new Map<string, App>();
      for (const app of list) {
        if (staticNames.has(app.metadata.name) || !matchesResource(app.metadata.labels ?? {}, o.resources)) continue;
        wanted.set(app.metadata.name, app);
      }
      for (const name of [...served.keys()]) if (!staticNames.has(name) && !wanted.has(name)) withdraw(name);
      for (const [name, app] of wanted) {
        try {
          const resource = publicApp(app);
          served.set(name, { target: appTargetFromResource(resource), resource });
          announce(name);
        } catch (e) {
          log.error({ app: name, err: e instanceof Error ? e.message : String(e) }, "cannot serve app");
        }
      }
      service?.pruneApps();
    };
    if (o.resources.length > 0) {
      await syncResources().catch((e: unknown) => log.warn({ err: String(e) }, "cannot list app resources"));
      const t = setInterval(() => void syncResources().catch((e: unknown) => log.warn({ err: String(e) }, "cannot list app resources")), RESOURCE_POLL_MS);
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
    const running = new ApplicationService({
      hostId: o.hostId,
      nodeName: o.nodeName,
      apps: () => [...served.values()].map((s) => s.target),
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
      appToken: async (r) => {
        const t = await auth.generateAppToken({
          username: r.username,
          roles: r.roles,
          traits: Object.fromEntries(Object.entries(r.traits).map(([k, v]) => [k, { values: v }])),
          uri: r.uri,
        });
        return { token: t.token, expires: new Date(t.expires) };
      },
      audit: (e) => queue.emit(e),
      auditRequests: o.auditRequests ?? true,
      clock: o.clock,
      log,
    });
    service = running;
    closers.push(() => running.close());

    const agent = new ReverseTunnelAgent({
      proxyAddr: o.proxyAddr,
      tls: { insecure: o.proxyInsecure, ...(o.proxyCas ? { cas: o.proxyCas } : {}) },
      backoff: { baseMs: 100, capMs: 30_000 },
      hostId: o.hostId,
      hostKey: o.identity.sshKey,
      hostCertificate: o.identity.sshCert,
      onDial: (stream, info) => {
        if (!info.target.startsWith(APP_DIAL_PREFIX)) {
          stream.destroy();
          return;
        }
        void running.handleConnection(stream, { clientAddr: info.clientAddr, target: info.target });
      },
      clock: o.clock,
      log,
    });
    agent.start();
    closers.push(() => agent.close());

    for (const name of served.keys()) announce(name);
    return { service: running, close };
  } catch (e) {
    await close();
    throw e;
  }
}

function appServerResource(o: Pick<AppServiceRunOptions, "hostId" | "nodeName">, app: App): StoredResource {
  return {
    kind: "app_server",
    version: "v3",
    metadata: { name: appServerName(app.metadata.name, o.hostId) },
    spec: { host_id: o.hostId, hostname: o.nodeName, version: VERSION, app },
  } as unknown as StoredResource;
}
