/**
 * Database access for jsh (and jbot): the databases a user may reach, logging
 * in to one (a certificate whose identity carries the route to it), and where
 * those certificates live in the profile:
 *
 *   keys/<proxy>/<user>-db/<cluster>/<name>.key   private key for database <name> (0600)
 *   keys/<proxy>/<user>-db/<cluster>/<name>.crt   its X.509 certificate (route-to-database inside)
 *   keys/<proxy>/cas/<cluster>.pem                the host CA: verifies the proxy's database endpoint
 *
 * `jsh proxy db` (dbproxy.ts) reads the same files through `loadDbCert`.
 */
import { createPrivateKey, createPublicKey } from "node:crypto";
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { AuthClient } from "../../api/authclient.ts";
import { fromProto, storedFromProto } from "../../api/convert.ts";
import { badParameter, isJumpgateError, notFound } from "../../api/errors.ts";
import { type DatabaseServer, dbServerDatabase, parseResourceOf, type Role } from "../../api/resources/index.ts";
import { decodeIdentity, generateEcdsaP256, type RouteToDatabase, sshPublicKeyLine } from "../crypto/index.ts";
import { AccessChecker, type DbValues } from "../rbac/index.ts";
import { writePrivate } from "./files.ts";
import { jshHome, keyPaths, loadCredentials, type Profile } from "./profile.ts";

/** A database as `jsh db ls` shows it. */
export interface DatabaseInfo {
  name: string;
  description: string;
  protocol: string;
  labels: Record<string, string>;
  /** Database users the roles allow here ("*": any), and those they deny. */
  users: DbValues;
  /** Database names the roles allow here ("*": any), and those they deny. */
  names: DbValues;
}

const safe = (s: string) => s.replace(/[^A-Za-z0-9._@-]/g, "_");

export function dbCertDir(p: Pick<Profile, "proxy" | "user" | "cluster">, home = jshHome()): string {
  return join(keyPaths(p, home).dir, `${safe(p.user)}-db`, safe(p.cluster));
}

export interface DbCertPaths {
  key: string;
  cert: string;
  /** The CA that signs the proxy's certificate (psql's sslrootcert). */
  ca: string;
}

export function dbCertPaths(p: Profile, name: string, home = jshHome()): DbCertPaths {
  const dir = dbCertDir(p, home);
  return { key: join(dir, `${safe(name)}.key`), cert: join(dir, `${safe(name)}.crt`), ca: keyPaths(p, home).hostCas };
}

/** A saved database certificate: its files, route and expiry. */
export interface DbCert {
  name: string;
  paths: DbCertPaths;
  route: RouteToDatabase;
  expires: Date;
  /** PEM. */
  key: string;
  cert: string;
  /** Host CA certificates (PEM) that verify the proxy. */
  cas: string[];
}

/** The certificate saved by `jsh db login NAME`; undefined when there is none. */
export function findDbCert(p: Profile, name: string, home = jshHome()): DbCert | undefined {
  const paths = dbCertPaths(p, name, home);
  if (!existsSync(paths.cert) || !existsSync(paths.key)) return undefined;
  const cert = readFileSync(paths.cert, "utf8");
  let id: ReturnType<typeof decodeIdentity>;
  try {
    id = decodeIdentity(cert);
  } catch {
    return undefined;
  }
  if (!id.routeToDatabase) return undefined;
  const cas = existsSync(paths.ca) ? (readFileSync(paths.ca, "utf8").match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? []) : [];
  return { name, paths, route: id.routeToDatabase, expires: id.expires, key: readFileSync(paths.key, "utf8"), cert, cas };
}

/** Like findDbCert, failing with what to run when there is no valid certificate. */
export function loadDbCert(p: Profile, name: string, now = new Date(), home = jshHome()): DbCert {
  const c = findDbCert(p, name, home);
  if (!c) throw notFound(`not logged in to database "${name}"; run: jsh db login ${name}`);
  if (c.expires.getTime() <= now.getTime()) throw badParameter(`your certificate for database "${name}" has expired; run: jsh db login ${name}`);
  return c;
}

/** Names of the databases with a saved certificate (expired ones included). */
export function listDbCerts(p: Profile, home = jshHome()): string[] {
  const dir = dbCertDir(p, home);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith(".crt"))
    .map((f) => f.slice(0, -4))
    .filter((n) => findDbCert(p, n, home) !== undefined)
    .sort();
}

/** Removes the certificates of one database, or of all; returns the names removed. */
export function removeDbCerts(p: Profile, name?: string, home = jshHome()): string[] {
  const names = name === undefined ? listDbCerts(p, home) : [name];
  const removed: string[] = [];
  for (const n of names) {
    const paths = dbCertPaths(p, n, home);
    if (existsSync(paths.cert) || existsSync(paths.key)) removed.push(n);
    rmSync(paths.cert, { force: true });
    rmSync(paths.key, { force: true });
  }
  return removed;
}

/**
 * The user's checker, from the roles he holds (Auth lets a user read his own
 * roles) and the traits in his certificate: for listing only. Auth and the
 * Database Service decide every certificate and connection themselves.
 */
async function ownChecker(auth: AuthClient, p: Profile): Promise<AccessChecker> {
  const id = decodeIdentity(loadCredentials(p).tlsCert);
  const roles: Role[] = [];
  for (const name of id.roles) {
    try {
      roles.push(parseResourceOf("role", fromProto(await auth.getResource({ kind: "role", name }))));
    } catch (e) {
      if (!isJumpgateError(e, "not-found") && !isJumpgateError(e, "access-denied")) throw e;
    }
  }
  return new AccessChecker(roles, id.traits);
}

/** The databases the user may see (Auth filters the db_server list by his roles), one row per name. */
export async function listDatabases(auth: AuthClient, p: Profile): Promise<DatabaseInfo[]> {
  const [servers, checker] = await Promise.all([
    auth.listResources({ kind: "db_server" }).then((r) => r.resources.map((x) => storedFromProto(x) as unknown as DatabaseServer)),
    ownChecker(auth, p),
  ]);
  const byName = new Map<string, DatabaseInfo>();
  for (const s of servers) {
    const { database, labels } = dbServerDatabase(s);
    const name = database.metadata.name;
    if (byName.has(name)) continue;
    const summary = checker.databaseAccessSummary({ labels });
    byName.set(name, {
      name,
      description: database.metadata.description ?? "",
      protocol: database.spec.protocol,
      labels,
      users: summary.users,
      names: summary.names,
    });
  }
  return [...byName.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/** The one value a list allows when it names exactly one (no wildcard); else undefined. */
function single(v: DbValues): string | undefined {
  const [only, ...rest] = v.allowed;
  return only !== undefined && rest.length === 0 && only !== "*" ? only : undefined;
}

export interface DbLoginOptions {
  name: string;
  dbUser?: string;
  dbName?: string;
  /** Requested lifetime; Auth caps it by the roles and the profile's own certificate. */
  ttlSeconds?: number;
}

/**
 * `jsh db login`: a certificate for one database, user and (optionally) name,
 * saved in the profile. Without --db-user, the one user the roles allow there.
 */
export async function dbLogin(auth: AuthClient, p: Profile, o: DbLoginOptions, home = jshHome()): Promise<DbCert> {
  const dbs = await listDatabases(auth, p);
  const db = dbs.find((d) => d.name === o.name);
  if (!db) throw notFound(`database "${o.name}" not found or not allowed; see jsh db ls`);
  const dbUser = o.dbUser ?? single(db.users);
  if (!dbUser) {
    const allowed = db.users.allowed.length > 0 ? `; your roles allow: ${db.users.allowed.join(", ")}` : "; your roles allow no database users here";
    throw badParameter(`name the database user with --db-user${allowed}`);
  }
  const dbName = o.dbName ?? single(db.names) ?? "";
  const creds = loadCredentials(p, home);
  const key = generateEcdsaP256();
  const certs = await auth.generateUserCerts({
    sshPublicKey: sshPublicKeyLine(createPublicKey(creds.sshKey)),
    tlsPublicKey: key.publicKey.export({ format: "pem", type: "spki" }).toString(),
    ttlSeconds: BigInt(o.ttlSeconds ?? 0),
    routeToDatabase: { serviceName: db.name, protocol: db.protocol, username: dbUser, database: dbName },
  });
  const paths = dbCertPaths(p, db.name, home);
  writePrivate(paths.key, key.privateKey.export({ format: "pem", type: "pkcs8" }).toString());
  writePrivate(paths.cert, certs.tlsCert.endsWith("\n") ? certs.tlsCert : `${certs.tlsCert}\n`);
  const saved = findDbCert(p, db.name, home);
  if (!saved) throw badParameter(`the certificate Auth issued for database "${db.name}" carries no route to it`);
  // The key must parse as what libpq and mysql will read.
  createPrivateKey(saved.key);
  return saved;
}
