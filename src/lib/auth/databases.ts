/**
 * Databases in Auth: finding a database by name (the Database Services'
 * `db_server` heartbeats, else a registered `db` resource), the RBAC check of a
 * route-to-database before a certificate carries it, and certificates signed
 * by the db CA (client certificates for Database Services, server certificates
 * for `jctl auth sign --format=db`).
 */
import net from "node:net";
import { accessDenied, badParameter, notFound } from "../../api/errors.ts";
import { type Database, type DatabaseServer, DB_PROTOCOLS, databaseLabels, dbServerDatabase, isValidDatabaseName } from "../../api/resources/index.ts";
import { issueServerCertificate, type RouteToDatabase, SubjectPublicKey } from "../crypto/index.ts";
import type { AccessChecker } from "../rbac/index.ts";
import type { StoredResource } from "../services/index.ts";
import type { AuthContext } from "./context.ts";

/** Client certificates for Database Services: ten minutes unless asked for less, never more than an hour. */
export const DB_CLIENT_CERT_TTL_MS = 10 * 60_000;
export const MAX_DB_CLIENT_CERT_TTL_MS = 3600_000;
/** Server certificates (`jctl auth sign --format=db`): about three months, Teleport's suggested --ttl=2190h. */
export const DB_SERVER_CERT_TTL_MS = 2190 * 3600_000;

/** One database as a user may reach it: its name, protocol and labels. */
export interface DatabaseEntry {
  name: string;
  protocol: string;
  labels: Record<string, string>;
  description: string;
  /** The db_server entries serving it (empty: registered, but no service announces it yet). */
  servers: DatabaseServer[];
}

/** Every database by name: the heartbeats, plus `db` resources no service announces yet. */
export async function listDatabases(ctx: AuthContext): Promise<DatabaseEntry[]> {
  const byName = new Map<string, DatabaseEntry>();
  for (const stored of await ctx.stores.dbServers.list()) {
    const s = stored as unknown as DatabaseServer;
    const { database, labels } = dbServerDatabase(s);
    const name = database.metadata.name;
    const seen = byName.get(name);
    if (seen) seen.servers.push(s);
    else byName.set(name, { name, protocol: database.spec.protocol, labels, description: database.metadata.description ?? "", servers: [s] });
  }
  for (const stored of await ctx.stores.databases.list()) {
    const db = stored as unknown as Database;
    if (byName.has(db.metadata.name)) continue;
    byName.set(db.metadata.name, {
      name: db.metadata.name,
      protocol: db.spec.protocol,
      labels: databaseLabels(db),
      description: db.metadata.description ?? "",
      servers: [],
    });
  }
  return [...byName.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * The labels a database is checked with: every server announcing it (several
 * services may serve one database, and the proxy may pick any of them, so each
 * must allow), else the `db` resource.
 */
export async function findDatabase(ctx: AuthContext, name: string): Promise<{ protocol: string; labelSets: Record<string, string>[] }> {
  const servers = (await ctx.stores.dbServers.list()).map((s) => s as unknown as DatabaseServer).filter((s) => s.spec.database.metadata.name === name);
  if (servers.length > 0) {
    const first = servers[0] as DatabaseServer;
    return { protocol: first.spec.database.spec.protocol, labelSets: servers.map((s) => dbServerDatabase(s).labels) };
  }
  const db = (await ctx.stores.databases.find(name)) as unknown as Database | undefined;
  if (db) return { protocol: db.spec.protocol, labelSets: [databaseLabels(db)] };
  throw notFound(`database "${name}" not found; see jsh db ls`);
}

/** May the user see this database at all (`jsh db ls`, web resources)? Labels only, like nodes. */
export function canSeeDatabase(checker: AccessChecker, labels: Record<string, string>): boolean {
  return checker.checkDatabaseLabels({ labels }).allowed;
}

/** A db_server entry is visible to a user whose roles' db_labels match its database. */
export function canSeeDbServer(checker: AccessChecker, stored: StoredResource): boolean {
  return canSeeDatabase(checker, dbServerDatabase(stored as unknown as DatabaseServer).labels);
}

/**
 * Checks a route-to-database for a certificate: the database exists, the
 * protocol (when given) is its protocol, and the roles allow the database user
 * and, when named, the database name on it. Returns the route to encode.
 */
export async function checkDatabaseRoute(ctx: AuthContext, checker: AccessChecker, route: RouteToDatabase): Promise<RouteToDatabase> {
  const name = route.serviceName;
  if (!isValidDatabaseName(name)) throw badParameter(`"${name}" is not a database name`);
  if (route.username === "") throw badParameter(`name the database user to log in to "${name}" as (--db-user)`);
  if (route.protocol !== "" && !(DB_PROTOCOLS as readonly string[]).includes(route.protocol)) {
    throw badParameter(`unknown database protocol "${route.protocol}"; use postgres or mysql`);
  }
  const db = await findDatabase(ctx, name);
  if (route.protocol !== "" && route.protocol !== db.protocol) {
    throw badParameter(`database "${name}" speaks ${db.protocol}, not ${route.protocol}`);
  }
  for (const labels of db.labelSets) {
    const d = checker.checkDatabaseAccess({ labels }, route.username, route.database === "" ? undefined : route.database);
    if (!d.allowed) {
      const who = `database user "${route.username}"${route.database ? ` and database name "${route.database}"` : ""}`;
      throw accessDenied(`access to database "${name}" as ${who} denied: ${d.reason}`);
    }
  }
  return { serviceName: name, protocol: db.protocol, username: route.username, database: route.database };
}

export interface DatabaseCertRequest {
  tlsPublicKey: string;
  /** Client certificate: the CN (the database user). */
  commonName: string;
  /** Server certificate: DNS names and IP addresses for the SANs. */
  serverNames: string[];
  ttlMs: number;
}

/** A certificate signed by the db CA: with server names a server certificate, else a client one with CN = user. */
export async function issueDatabaseCert(ctx: AuthContext, req: DatabaseCertRequest): Promise<{ cert: string; caCerts: string[]; expires: Date }> {
  let publicKey: SubjectPublicKey;
  try {
    publicKey = SubjectPublicKey.fromPem(req.tlsPublicKey);
  } catch {
    throw badParameter("the TLS public key is not a valid PEM public key");
  }
  const ca = ctx.authorities.get("db");
  if (!ca.tlsSigner) throw accessDenied("this Auth Service cannot sign database certificates");
  const ips = req.serverNames.filter((n) => net.isIP(n) !== 0);
  const dns = req.serverNames.filter((n) => net.isIP(n) === 0);
  const cert = await issueServerCertificate({
    caCert: ca.tlsSigner.cert,
    caKey: ca.tlsSigner.key,
    publicKey,
    commonName: req.commonName,
    dnsNames: dns,
    ipAddresses: ips,
    ttlMs: req.ttlMs,
    clock: ctx.clock,
  });
  return { cert, caCerts: ca.tlsCerts, expires: new Date(ctx.clock.now().getTime() + req.ttlMs) };
}
