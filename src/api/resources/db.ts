/**
 * `db` v3: a database reachable through a Database Service, in Teleport's
 * shape (`tctl get db` output loads), registered with `jctl create -f db.yaml`
 * or from a service's `db_service.databases` list. Jumpgate adds two fields:
 * `audit_queries` (false: no `db.session.query` events for this database) and
 * `auth` (how the service logs in to the server: `cert`, the default, or
 * `password` read on the service's host from a file or environment variable).
 * See docs/database-access.md.
 */
import { z } from "zod";
import { bool, duration, metadata, nonEmptyString, nonEmptyStringList, oneOf, str, strict } from "./schema.ts";

export const DB_PROTOCOLS = ["postgres", "mysql"] as const;
export type DatabaseProtocol = (typeof DB_PROTOCOLS)[number];
export const DB_TLS_MODES = ["verify-full", "verify-ca", "insecure"] as const;

/** Database names are used in certificates, audit events and `jsh db` arguments: a DNS-label-like word. */
const DB_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?$/;
export const DB_NAME_PROBLEM = "a database name must be 1 to 63 letters, digits, '-' or '_', starting and ending with a letter or digit";

export function isValidDatabaseName(name: string): boolean {
  return DB_NAME.test(name);
}

/** `host:port` or `[v6]:port`, port 1-65535. */
const HOST_PORT = /^(?:\[[0-9A-Fa-f:.]+\]|[^\s/:[\]@]+):(\d{1,5})$/;

export function isValidDbUri(uri: string): boolean {
  const m = HOST_PORT.exec(uri);
  const port = Number(m?.[1]);
  return m !== null && port >= 1 && port <= 65535;
}

const dbUri = str.refine(isValidDbUri, {
  error: (iss) => `invalid uri ${JSON.stringify(iss.input)}: use HOST:PORT, like "db.example.com:5432"`,
  abort: true,
});

const dynamicLabel = strict({
  period: duration,
  command: nonEmptyStringList,
  result: str.optional(),
});

export const dbTls = strict({
  /** verify-full (default): CA and server name; verify-ca: CA only; insecure: no checks. */
  mode: oneOf(DB_TLS_MODES).optional(),
  /** PEM of the CA that signed the server's certificate; absent: the cluster's db CA and the system roots. */
  ca_cert: str.optional(),
  /** Name to verify in the server's certificate; absent: the host of `uri`. */
  server_name: str.optional(),
  trust_system_cert_pool: bool.optional(),
});

export const dbAuth = strict({
  /** cert: a client certificate for the database user, signed by the db CA. password: a fixed server account. */
  type: oneOf(["cert", "password"]),
  /** The server account (password only). */
  user: nonEmptyString.optional(),
  /** File on the Database Service's host holding the password (password only). */
  password_file: nonEmptyString.optional(),
  /** Environment variable of the Database Service holding the password (password only). */
  password_env: nonEmptyString.optional(),
}).superRefine((a, ctx) => {
  if (a.type === "password") {
    if (a.user === undefined) ctx.addIssue({ code: "custom", path: ["user"], message: "password authentication needs the server account's user" });
    if ((a.password_file === undefined) === (a.password_env === undefined)) {
      ctx.addIssue({ code: "custom", path: [], message: "password authentication needs exactly one of password_file or password_env" });
    }
  } else {
    for (const f of ["user", "password_file", "password_env"] as const) {
      if (a[f] !== undefined) ctx.addIssue({ code: "custom", path: [f], message: "only used with type: password" });
    }
  }
});

/** Teleport fields for cloud databases: accepted so exported resources load, not evaluated. */
const ignored = z.unknown().optional();

export const dbSpec = strict({
  protocol: oneOf(DB_PROTOCOLS),
  uri: dbUri,
  tls: dbTls.optional(),
  dynamic_labels: z.record(str, dynamicLabel).optional(),
  /** Per-database switch for `db.session.query` audit events; default true. */
  audit_queries: bool.optional(),
  auth: dbAuth.optional(),
  mysql: strict({ server_version: str.optional() }).optional(),
  /** Teleport's older place for tls.ca_cert. */
  ca_cert: str.optional(),
  aws: ignored,
  gcp: ignored,
  azure: ignored,
  ad: ignored,
  admin_user: ignored,
  mongo_atlas: ignored,
  oracle: ignored,
});

function checkName(name: string, ctx: z.RefinementCtx, path: PropertyKey[]): void {
  if (!isValidDatabaseName(name)) ctx.addIssue({ code: "custom", path, message: DB_NAME_PROBLEM });
}

export const dbSchema = strict({
  kind: z.literal("db"),
  version: z.literal("v3"),
  sub_kind: str.optional(),
  metadata,
  spec: dbSpec,
}).superRefine((db, ctx) => checkName(db.metadata.name, ctx, ["metadata", "name"]));

export type Database = z.output<typeof dbSchema>;
export type DatabaseInput = z.input<typeof dbSchema>;

/** Static labels plus dynamic (command) label results: what role db_labels are matched against. */
export function databaseLabels(db: Pick<Database, "metadata" | "spec">): Record<string, string> {
  const out: Record<string, string> = { ...(db.metadata.labels ?? {}) };
  for (const [key, label] of Object.entries(db.spec.dynamic_labels ?? {})) {
    if (label.result !== undefined) out[key] = label.result;
  }
  return out;
}

/** Query audit is on unless the database turns it off. */
export function auditsQueries(db: Pick<Database, "spec">): boolean {
  return db.spec.audit_queries !== false;
}
