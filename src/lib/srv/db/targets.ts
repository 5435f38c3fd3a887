import { readFileSync } from "node:fs";
import { badParameter } from "../../../api/errors.ts";
import { auditsQueries, type Database, databaseLabels } from "../../../api/resources/index.ts";
import type { DatabaseTarget } from "./engine.ts";

/** One entry of `db_service.databases` in the config file (config/schema.ts), as the service needs it. */
export interface DbConfigEntry {
  name: string;
  protocol: "postgres" | "mysql";
  uri: string;
  static_labels: Record<string, string>;
  tls?: { mode: "verify-full" | "verify-ca" | "insecure"; ca_cert_file?: string | undefined; server_name?: string | undefined } | undefined;
  credentials?: { username: string; password_file: string } | undefined;
}

/** A secret from a file: its first line, without the newline. */
function readSecretFile(path: string, what: string): string {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw badParameter(`cannot read the password file of ${what} (${path}): ${e instanceof Error ? e.message : String(e)}`);
  }
  return (text.split(/\r?\n/)[0] ?? "").trimEnd();
}

function tlsOf(
  t: { mode?: "verify-full" | "verify-ca" | "insecure" | undefined; server_name?: string | undefined } | undefined,
  caCerts: string[] | undefined,
): DatabaseTarget["tls"] {
  if (!t) return undefined;
  return {
    mode: t.mode ?? "verify-full",
    ...(caCerts && caCerts.length > 0 ? { caCerts } : {}),
    ...(t.server_name ? { serverName: t.server_name } : {}),
  };
}

/**
 * A configured database. Without `credentials` the service logs in with a
 * db-CA certificate; with them, with the password read from the file now.
 * `commandLabels` are the current results of its dynamic labels.
 */
export function databaseTargetFromConfig(d: DbConfigEntry, commandLabels: Record<string, string> = {}): DatabaseTarget {
  const ca = d.tls?.ca_cert_file ? [readFileSync(d.tls.ca_cert_file, "utf8")] : undefined;
  const tls = tlsOf(d.tls, ca);
  return {
    name: d.name,
    protocol: d.protocol,
    uri: d.uri,
    labels: { ...d.static_labels, ...commandLabels },
    ...(tls ? { tls } : {}),
    auth: d.credentials
      ? { kind: "password", user: d.credentials.username, password: readSecretFile(d.credentials.password_file, `database ${d.name}`) }
      : { kind: "cert" },
    auditQueries: true,
  };
}

/** A `db` resource registered with `jctl create` (matched by `db_service.resources`). */
export function databaseTargetFromResource(db: Database, env: NodeJS.ProcessEnv = process.env): DatabaseTarget {
  const caPem = db.spec.tls?.ca_cert ?? db.spec.ca_cert;
  const tls = tlsOf(db.spec.tls, caPem ? [caPem] : undefined);
  const a = db.spec.auth;
  let auth: DatabaseTarget["auth"] = { kind: "cert" };
  if (a?.type === "password") {
    const what = `database ${db.metadata.name}`;
    let password: string;
    if (a.password_file) password = readSecretFile(a.password_file, what);
    else {
      const v = a.password_env ? env[a.password_env] : undefined;
      if (v === undefined) throw badParameter(`${what}: environment variable ${a.password_env ?? "(none)"} is not set`);
      password = v;
    }
    auth = { kind: "password", user: a.user ?? "", password };
  }
  return {
    name: db.metadata.name,
    protocol: db.spec.protocol,
    uri: db.spec.uri,
    labels: databaseLabels(db),
    ...(tls ? { tls } : {}),
    auth,
    auditQueries: auditsQueries(db),
  };
}
