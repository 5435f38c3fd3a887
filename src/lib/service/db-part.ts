import { generateKeyPairSync } from "node:crypto";
import type { Logger } from "pino";
import { VERSION } from "../../api/constants.ts";
import type { StoredResource } from "../../api/resource.ts";
import { type Database, dbServerName } from "../../api/resources/index.ts";
import { type CommandLabelSpec, CommandLabels } from "../srv/agent/index.ts";
import {
  DatabaseService,
  type DatabaseTarget,
  type DbConfigEntry,
  databaseTargetFromConfig,
  databaseTargetFromResource,
  defaultEngines,
} from "../srv/db/index.ts";
import { type AgentContext, type AgentJoin, type AgentLocal, announcedLabels, followRegistered, startAgentPart } from "./agent-part.ts";

export { matchesResource } from "./agent-part.ts";

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
  local?: AgentLocal;
  /** A separate agent: joins and reaches Auth through this proxy. */
  join?: AgentJoin;
}

/**
 * The Database Service with its host certificates kept fresh (as the SSH
 * service does: renewed between sessions). It has its own host id (kept in
 * `<data_dir>/db/host_uuid`): its reverse tunnel and `db_server` entries are
 * keyed by it, so it runs beside an SSH service in one process.
 */
export async function startDbPart(o: DbPartOptions): Promise<{ clusterName: string; hostId: string; close(): Promise<void> }> {
  const part = await startAgentPart({
    role: "db",
    title: "Database Service",
    dataDir: o.dataDir,
    nodeName: o.nodeName,
    log: o.log,
    ...(o.local ? { local: o.local } : {}),
    ...(o.join ? { join: o.join } : {}),
    dialPrefix: "db:",
    start: (ctx) => startDbService(o, ctx),
  });
  return { clusterName: part.clusterName, hostId: part.hostId, close: () => part.close() };
}

interface Served {
  target: DatabaseTarget;
  /** What the heartbeat announces as `spec.database` (no secrets). */
  resource: () => Database;
}

async function startDbService(o: DbPartOptions, ctx: AgentContext): Promise<DatabaseService> {
  const { log, auth } = ctx;
  const served = new Map<string, Served>();
  const entries = ctx.announcer({
    kind: "db_server",
    entryName: (name) => dbServerName(name, ctx.hostId),
    build: (name) => {
      const s = served.get(name);
      return s ? dbServerResource(ctx, s.resource()) : undefined;
    },
  });

  // Configured databases, each with its command labels.
  for (const d of o.databases) {
    const labels = new CommandLabels(d.dynamic_labels, log, () => {
      refresh();
      entries.announce(d.name);
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
    ctx.onClose(() => labels.stop());
    refresh();
  }
  const staticNames = new Set(o.databases.map((d) => d.name));

  // Databases registered as `db` resources that match db_service.resources.
  await followRegistered<Database>(ctx, {
    kind: "db",
    matchers: o.resources,
    skip: staticNames,
    served: () => [...served.keys()].filter((name) => !staticNames.has(name)),
    serve: (name, db) => {
      try {
        served.set(name, { target: databaseTargetFromResource(db), resource: () => publicResource(db) });
        entries.announce(name);
      } catch (e) {
        log.error({ db: name, err: e instanceof Error ? e.message : String(e) }, "cannot serve database");
      }
    },
    withdraw: (name) => {
      served.delete(name);
      entries.withdraw(name);
    },
  });

  const service = new DatabaseService({
    hostId: ctx.hostId,
    nodeName: o.nodeName,
    databases: () => [...served.values()].map((s) => s.target),
    engines: defaultEngines(),
    userCas: ctx.userCas,
    ...ctx.reads,
    serverCredentials: async (dbUser, database) => {
      const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
      const c = await auth.generateDatabaseCert({
        tlsPublicKey: publicKey.export({ format: "pem", type: "spki" }).toString(),
        dbUser,
        database: database.name,
      });
      return { cert: c.cert, key: privateKey.export({ format: "pem", type: "pkcs8" }).toString(), cas: c.caCerts };
    },
    audit: ctx.audit,
    clock: ctx.clock,
    log,
  });
  for (const name of served.keys()) entries.announce(name);
  return service;
}

function dbServerResource(o: Pick<AgentContext, "hostId" | "nodeName">, database: Database): StoredResource {
  return {
    kind: "db_server",
    version: "v3",
    metadata: { name: dbServerName(database.metadata.name, o.hostId) },
    spec: { host_id: o.hostId, hostname: o.nodeName, version: VERSION, database },
  } as unknown as StoredResource;
}

function configResource(d: DbPartDatabase, labels: CommandLabels): Database {
  const dynamic = announcedLabels(labels);
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
