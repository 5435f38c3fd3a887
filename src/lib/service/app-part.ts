import type { Duplex } from "node:stream";
import type { Logger } from "pino";
import { APP_DIAL_PREFIX } from "../../api/appwire.ts";
import { VERSION } from "../../api/constants.ts";
import type { StoredResource } from "../../api/resource.ts";
import { type App, appServerName } from "../../api/resources/index.ts";
import { type CommandLabelSpec, CommandLabels } from "../srv/agent/index.ts";
import { type AppConfigEntry, ApplicationService, type AppTarget, appFromConfig, appTargetFromResource, publicApp } from "../srv/app/index.ts";
import { type AgentContext, type AgentJoin, type AgentLocal, followRegistered, startAgentPart } from "./agent-part.ts";

/** Below this the certificates are renewed even with streams open (browsers keep some open for long). */
const FORCE_RENEW_FRACTION = 1 / 6;

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
  local?: AgentLocal;
  /** A separate agent: joins and reaches Auth through this proxy. */
  join?: AgentJoin;
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
  if (o.apps.length === 0 && o.resources.length === 0) {
    o.log.warn("the Application Service has no apps: list them in app_service.apps or match registered ones with app_service.resources");
  }
  const part = await startAgentPart({
    role: "app",
    title: "Application Service",
    dataDir: o.dataDir,
    nodeName: o.nodeName,
    log: o.log,
    ...(o.local ? { local: o.local } : {}),
    ...(o.join ? { join: o.join } : {}),
    dialPrefix: APP_DIAL_PREFIX,
    forceRenewFraction: FORCE_RENEW_FRACTION,
    start: (ctx) => startAppService(o, ctx),
  });
  return { clusterName: part.clusterName, hostId: part.hostId, handleConnection: part.handleConnection, close: part.close };
}

interface Served {
  target: AppTarget;
  /** What the heartbeat announces as `spec.app`. */
  resource: App;
}

async function startAppService(o: AppPartOptions, ctx: AgentContext): Promise<ApplicationService> {
  const { log, auth } = ctx;
  const served = new Map<string, Served>();
  const entries = ctx.announcer({
    kind: "app_server",
    entryName: (name) => appServerName(name, ctx.hostId),
    build: (name) => {
      const s = served.get(name);
      return s ? appServerResource(ctx, s.resource) : undefined;
    },
  });

  // Configured apps, each with its command labels.
  for (const a of o.apps) {
    const labels = new CommandLabels(a.dynamic_labels, log, () => {
      refresh();
      entries.announce(a.name);
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
    ctx.onClose(() => labels.stop());
    refresh();
  }
  const staticNames = new Set(o.apps.map((a) => a.name));

  let service: ApplicationService | undefined;
  // Apps registered as `app` resources that match app_service.resources.
  await followRegistered<App>(ctx, {
    kind: "app",
    matchers: o.resources,
    skip: staticNames,
    served: () => [...served.keys()].filter((name) => !staticNames.has(name)),
    serve: (name, app) => {
      try {
        const resource = publicApp(app);
        served.set(name, { target: appTargetFromResource(resource), resource });
        entries.announce(name);
      } catch (e) {
        log.error({ app: name, err: e instanceof Error ? e.message : String(e) }, "cannot serve app");
      }
    },
    withdraw: (name) => {
      served.delete(name);
      entries.withdraw(name);
    },
    after: () => service?.pruneApps(),
  });

  const running = new ApplicationService({
    hostId: ctx.hostId,
    nodeName: o.nodeName,
    apps: () => [...served.values()].map((s) => s.target),
    userCas: ctx.userCas,
    ...ctx.reads,
    appToken: async (r) => {
      const t = await auth.generateAppToken({
        username: r.username,
        roles: r.roles,
        traits: Object.fromEntries(Object.entries(r.traits).map(([k, v]) => [k, { values: v }])),
        uri: r.uri,
      });
      return { token: t.token, expires: new Date(t.expires) };
    },
    audit: ctx.audit,
    auditRequests: o.auditRequests ?? true,
    clock: ctx.clock,
    log,
  });
  service = running;
  for (const name of served.keys()) entries.announce(name);
  return running;
}

function appServerResource(o: Pick<AgentContext, "hostId" | "nodeName">, app: App): StoredResource {
  return {
    kind: "app_server",
    version: "v3",
    metadata: { name: appServerName(app.metadata.name, o.hostId) },
    spec: { host_id: o.hostId, hostname: o.nodeName, version: VERSION, app },
  } as unknown as StoredResource;
}
