/**
 * The Auth API's database parts:
 * - GenerateDatabaseCert: certificates signed by the db CA. A Database Service
 *   (a host with the `db` system role) gets a short client certificate whose
 *   CN is the database user, to log in to servers that trust the db CA; an
 *   administrator gets a server certificate (`jctl auth sign --format=db`).
 * - db_server heartbeats: a Database Service writes (and removes) only the
 *   entries named `<database>@<its host id>`.
 * - What users see: db_server entries whose database their db_labels match,
 *   and the route-to-database check for GenerateUserCerts.
 */

import { accessDenied, badParameter } from "../../../api/errors.ts";
import type { GenerateDatabaseCertRequest, RouteToDatabase as RouteProto } from "../../../api/gen/jumpgate/v1/auth_pb.ts";
import { type DatabaseServer, dbServerName, isValidDatabaseName } from "../../../api/resources/index.ts";
import type { RouteToDatabase } from "../../crypto/index.ts";
import type { AccessChecker } from "../../rbac/index.ts";
import type { StoredResource } from "../../services/index.ts";
import type { AuthContext } from "../context.ts";
import {
  canSeeDbServer,
  checkDatabaseRoute,
  DB_CLIENT_CERT_TTL_MS,
  DB_SERVER_CERT_TTL_MS,
  issueDatabaseCert,
  MAX_DB_CLIENT_CERT_TTL_MS,
} from "../databases.ts";
import { validateResource } from "../validate.ts";
import { type Caller, requireAuthenticated } from "./authz.ts";

export const DB_SERVER = "db_server";

/** Calls only Database Services make (the pattern of requireProxy). */
export function requireDatabaseService(c: Caller, what: string): asserts c is Extract<Caller, { kind: "host" }> {
  if (c.kind === "host" && c.systemRoles.includes("db")) return;
  throw accessDenied(`only a Database Service may ${what}`);
}

export interface DatabaseCertOut {
  cert: string;
  caCerts: string[];
  expires: string;
}

const DB_USER = /^[^\p{Cc}]{1,128}$/u;

export async function generateDatabaseCert(ctx: AuthContext, c: Caller, req: GenerateDatabaseCertRequest): Promise<DatabaseCertOut> {
  requireAuthenticated(c);
  const asked = req.ttlSeconds > 0n ? Number(req.ttlSeconds) * 1000 : undefined;
  if (req.serverNames.length > 0) {
    if (c.kind !== "admin") throw accessDenied("only an administrator may sign database server certificates");
    const names = [...new Set(req.serverNames.map((n) => n.trim()).filter((n) => n !== ""))];
    const [first] = names;
    if (first === undefined) throw badParameter("name the database server (--host NAME)");
    const r = await issueDatabaseCert(ctx, { tlsPublicKey: req.tlsPublicKey, commonName: first, serverNames: names, ttlMs: asked ?? DB_SERVER_CERT_TTL_MS });
    await ctx.audit.emit({
      event: "cert.create",
      user: c.name,
      cert_type: "db",
      server_names: names,
      ttl_seconds: Math.round((asked ?? DB_SERVER_CERT_TTL_MS) / 1000),
    });
    return { cert: r.cert, caCerts: r.caCerts, expires: r.expires.toISOString() };
  }
  if (c.kind !== "admin") requireDatabaseService(c, "ask for database client certificates");
  if (!DB_USER.test(req.dbUser)) throw badParameter("a database client certificate needs the database user (1 to 128 printable characters)");
  const ttlMs = Math.min(asked ?? DB_CLIENT_CERT_TTL_MS, MAX_DB_CLIENT_CERT_TTL_MS);
  // Issued per connection: the Database Service's db.session.start is the audit record, not this.
  const r = await issueDatabaseCert(ctx, { tlsPublicKey: req.tlsPublicKey, commonName: req.dbUser, serverNames: [], ttlMs });
  return { cert: r.cert, caCerts: r.caCerts, expires: r.expires.toISOString() };
}

/**
 * A Database Service's heartbeat: the entry must be valid and named for this
 * host. Returns true when the write is a heartbeat (quiet, no rule needed).
 */
export function guardDbServerHeartbeat(c: Caller, doc: Record<string, unknown>): boolean {
  if (!(c.kind === "host" && c.systemRoles.includes("db"))) return false;
  const s = validateResource(doc) as unknown as DatabaseServer;
  if (s.spec.host_id !== c.name) throw accessDenied(`host ${c.name} may only register its own databases (spec.host_id must be ${c.name})`);
  const want = dbServerName(s.spec.database.metadata.name, c.name);
  if (s.metadata.name !== want) throw accessDenied(`host ${c.name} may only write db_server "${want}"`);
  return true;
}

/** A Database Service removing one of its own entries (a database dropped from its config). */
export function isOwnDbServerDelete(c: Caller, kind: string, name: string): boolean {
  if (!(kind === DB_SERVER && c.kind === "host" && c.systemRoles.includes("db"))) return false;
  const suffix = `@${c.name}`;
  return name.endsWith(suffix) && isValidDatabaseName(name.slice(0, -suffix.length));
}

/** Users without a rule on db_server see the entries whose database their roles' db_labels match. */
export function visibleDbServers(checker: AccessChecker, all: StoredResource[]): StoredResource[] {
  return all.filter((s) => canSeeDbServer(checker, s));
}

/** The route of GenerateUserCerts, checked against the target user's roles; undefined when none was asked. */
export async function databaseRouteFor(ctx: AuthContext, checker: AccessChecker, route: RouteProto | undefined): Promise<RouteToDatabase | undefined> {
  if (!route || route.serviceName === "") return undefined;
  return checkDatabaseRoute(ctx, checker, {
    serviceName: route.serviceName,
    protocol: route.protocol,
    username: route.username,
    database: route.database,
  });
}
