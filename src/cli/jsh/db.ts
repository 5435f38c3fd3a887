/**
 * `jsh db ls|login|logout|env|config|connect` (Teleport's `tsh db` verbs).
 * The work is in lib/client (dbcerts.ts, dbproxy.ts); this file parses flags,
 * prints, and runs psql or mysql.
 */
import { spawn } from "node:child_process";
import net from "node:net";
import type { Command } from "commander";
import { badParameter, connectionProblem, notFound } from "../../api/errors.ts";
import {
  type AuthClient,
  currentProfile,
  type DatabaseInfo,
  type DbCert,
  dbLogin,
  type Format,
  findDbCert,
  formatDate,
  listDatabases,
  listDbCerts,
  loadDbCert,
  type Profile,
  parseFormat,
  removeDbCerts,
  render,
  startLocalDbProxy,
  table,
  userAuthClient,
} from "../../lib/client/index.ts";

interface Globals {
  proxy?: string;
  format: string;
}

const show = (v: string[]) => (v.length === 0 ? "(none)" : v.join(", "));
const labelText = (l: Record<string, string>) =>
  Object.entries(l)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${v}`)
    .join(",");

export function renderDatabases(rows: DatabaseInfo[], format: Format, loggedIn: string[] = []): string {
  const data = rows.map((r) => ({
    name: r.name,
    description: r.description,
    protocol: r.protocol,
    labels: r.labels,
    allowed_users: r.users.allowed,
    denied_users: r.users.denied,
    allowed_names: r.names.allowed,
    denied_names: r.names.denied,
    logged_in: loggedIn.includes(r.name),
  }));
  return render(data, format, () =>
    table(
      ["Name", "Protocol", "Description", "Allowed Users", "Database Names", "Labels"],
      rows.map((r) => [
        loggedIn.includes(r.name) ? `> ${r.name}` : r.name,
        r.protocol,
        r.description,
        show(r.users.allowed),
        show(r.names.allowed),
        labelText(r.labels),
      ]),
    ),
  );
}

/** Host and port of the proxy's public address, where psql connects. */
export function proxyHostPort(p: Pick<Profile, "proxy">): { host: string; port: number } {
  const i = p.proxy.lastIndexOf(":");
  const host = p.proxy.slice(0, i).replace(/^\[|\]$/g, "");
  const port = Number(p.proxy.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port) || port <= 0 || port > 65535) throw badParameter(`proxy address "${p.proxy}" is not HOST:PORT`);
  return { host, port };
}

/**
 * libpq's sslmode: verify-full (CA and name) for a proxy named by DNS name;
 * verify-ca when it is an IP address (host certificates carry names, not IP
 * addresses) or the profile was made with --insecure.
 */
export function pgSslMode(p: Pick<Profile, "proxy" | "insecure">): "verify-full" | "verify-ca" {
  return p.insecure || net.isIP(proxyHostPort(p).host) !== 0 ? "verify-ca" : "verify-full";
}

export interface DbConnectionConfig {
  name: string;
  protocol: string;
  host: string;
  port: number;
  user: string;
  database: string;
  ca: string;
  cert: string;
  key: string;
  sslmode: string;
  valid_until: string;
}

export function connectionConfig(p: Profile, c: DbCert): DbConnectionConfig {
  const { host, port } = proxyHostPort(p);
  return {
    name: c.name,
    protocol: c.route.protocol,
    host,
    port,
    user: c.route.username,
    database: c.route.database,
    ca: c.paths.ca,
    cert: c.paths.cert,
    key: c.paths.key,
    sslmode: pgSslMode(p),
    valid_until: formatDate(c.expires),
  };
}

/** The libpq connection string `jsh db connect` gives psql. */
export function pgConnString(cfg: DbConnectionConfig, dbName: string): string {
  const q = (v: string) => (/^[^\s'\\]+$/.test(v) ? v : `'${v.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`);
  const parts: Array<[string, string]> = [
    ["sslmode", cfg.sslmode],
    ["sslrootcert", cfg.ca],
    ["sslcert", cfg.cert],
    ["sslkey", cfg.key],
    ["host", cfg.host],
    ["port", String(cfg.port)],
    ["user", cfg.user],
    ["dbname", dbName],
  ];
  return parts.map(([k, v]) => `${k}=${q(v)}`).join(" ");
}

/** `jsh db env`: shell lines for scripts (PostgreSQL clients read PG* variables). */
export function envLines(cfg: DbConnectionConfig): string[] {
  if (cfg.protocol !== "postgres") {
    throw badParameter(
      `MySQL clients read no certificate settings from the environment; run: jsh proxy db ${cfg.name} --tunnel --port PORT, then mysql -h 127.0.0.1 -P PORT`,
    );
  }
  const vars: Array<[string, string]> = [
    ["PGHOST", cfg.host],
    ["PGPORT", String(cfg.port)],
    ["PGSSLMODE", cfg.sslmode],
    ["PGSSLROOTCERT", cfg.ca],
    ["PGSSLCERT", cfg.cert],
    ["PGSSLKEY", cfg.key],
    ["PGUSER", cfg.user],
  ];
  if (cfg.database) vars.push(["PGDATABASE", cfg.database]);
  return vars.map(([k, v]) => `export ${k}=${/^[A-Za-z0-9_./:@-]+$/.test(v) ? v : `'${v.replace(/'/g, `'\\''`)}'`}`);
}

/** The one database meant: the named one, or the only one logged in to. */
function pick(p: Profile, name: string | undefined): string {
  if (name) return name;
  const all = listDbCerts(p);
  const [only, ...rest] = all;
  if (only !== undefined && rest.length === 0) return only;
  if (all.length === 0) throw notFound("not logged in to any database; run: jsh db login NAME");
  throw badParameter(`logged in to several databases (${all.join(", ")}); name one`);
}

async function withAuth<T>(p: Profile, fn: (auth: AuthClient) => Promise<T>): Promise<T> {
  const auth = userAuthClient(p);
  try {
    return await fn(auth);
  } finally {
    auth.close();
  }
}

interface LoginFlags {
  dbUser?: string;
  dbName?: string;
}

/** The certificate for NAME: the saved one if it is valid and fits the flags, else a new one. */
async function ensureLogin(p: Profile, name: string, o: LoginFlags): Promise<DbCert> {
  const saved = findDbCert(p, name);
  const fits =
    saved !== undefined &&
    saved.expires.getTime() > Date.now() + 30_000 &&
    (o.dbUser === undefined || o.dbUser === saved.route.username) &&
    (o.dbName === undefined || o.dbName === saved.route.database || saved.route.database === "");
  if (saved && fits) return saved;
  return withAuth(p, (auth) => dbLogin(auth, p, { name, ...(o.dbUser ? { dbUser: o.dbUser } : {}), ...(o.dbName ? { dbName: o.dbName } : {}) }));
}

/** Runs a client program with the terminal; resolves with its exit code. */
function run(program: string, args: string[], what: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { stdio: "inherit" });
    child.once("error", (e: NodeJS.ErrnoException) =>
      reject(e.code === "ENOENT" ? notFound(`${program} not found in PATH; install ${what}`) : connectionProblem(`cannot run ${program}: ${e.message}`)),
    );
    child.once("exit", (code, signal) => resolve(code ?? (signal ? 128 + (signal === "SIGINT" ? 2 : 15) : 1)));
  });
}

export async function dbConnect(p: Profile, name: string, o: LoginFlags & { extra?: string[] }): Promise<number> {
  const cert = await ensureLogin(p, name, o);
  const cfg = connectionConfig(p, cert);
  const dbName = o.dbName ?? cert.route.database;
  if (cfg.protocol === "postgres") {
    if (!dbName) throw badParameter(`name the database with --db-name (jsh db connect ${name} --db-name NAME)`);
    return run("psql", [pgConnString(cfg, dbName), ...(o.extra ?? [])], "the PostgreSQL client (apt install postgresql-client)");
  }
  // MySQL's server speaks first, so the client cannot start TLS with the proxy itself: a local tunnel does.
  const local = await startLocalDbProxy({
    profile: p,
    database: { name, protocol: "mysql" },
    port: 0,
    tunnel: true,
    credentials: { cert: cert.cert, key: cert.key, hostCas: cert.cas },
    onError: (e) => process.stderr.write(`ERROR: ${e.message}\n`),
  });
  try {
    const args = ["-h", "127.0.0.1", "-P", String(local.port), "--protocol=TCP", "-u", cfg.user, ...(dbName ? [dbName] : []), ...(o.extra ?? [])];
    return await run("mysql", args, "the MySQL or MariaDB client (apt install mariadb-client)");
  } finally {
    await local.close();
  }
}

export function registerDbCommands(program: Command, globals: () => Globals, print: (s: string) => void): void {
  const profile = () => currentProfile(globals().proxy);
  const db = program.command("db").description("databases: list, log in, connect");

  db.command("ls")
    .description("list the databases you may reach, with the database users and names your roles allow")
    .option("--format <format>", "text, json or yaml")
    .action(async (o: { format?: string }) => {
      const p = profile();
      const rows = await withAuth(p, (auth) => listDatabases(auth, p));
      print(renderDatabases(rows, parseFormat(o.format ?? globals().format), listDbCerts(p)));
    });

  db.command("login <name>")
    .description("get a certificate for a database (saved in your profile)")
    .option("--db-user <user>", "database user to log in as (default: the only one your roles allow)")
    .option("--db-name <name>", "database name (default: chosen when connecting)")
    .action(async (name: string, o: LoginFlags) => {
      const p = profile();
      const c = await withAuth(p, (auth) => dbLogin(auth, p, { name, ...o }));
      const as = `as ${c.route.username}${c.route.database ? ` (database ${c.route.database})` : ""}`;
      print(`Logged in to database "${name}" ${as}, valid until ${formatDate(c.expires)}.\nConnect with: jsh db connect ${name}`);
    });

  db.command("logout [name]")
    .description("remove the certificate of one database, or of all")
    .action((name: string | undefined) => {
      const removed = removeDbCerts(profile(), name);
      if (name && removed.length === 0) throw notFound(`not logged in to database "${name}"`);
      print(removed.length === 0 ? "Not logged in to any database." : `Logged out of ${removed.map((n) => `"${n}"`).join(", ")}.`);
    });

  db.command("env [name]")
    .description('print PG* environment variables for scripts: eval "$(jsh db env NAME)"')
    .action((name: string | undefined) => {
      const p = profile();
      print(envLines(connectionConfig(p, loadDbCert(p, pick(p, name)))).join("\n"));
    });

  db.command("config [name]")
    .description("print the proxy address and certificate paths for a database client")
    .option("--format <format>", "text, json or yaml")
    .action((name: string | undefined, o: { format?: string }) => {
      const p = profile();
      const cfg = connectionConfig(p, loadDbCert(p, pick(p, name)));
      print(
        render(cfg, parseFormat(o.format ?? globals().format), () =>
          [
            `Name:      ${cfg.name}`,
            `Protocol:  ${cfg.protocol}`,
            `Host:      ${cfg.host}`,
            `Port:      ${cfg.port}`,
            `User:      ${cfg.user}`,
            `Database:  ${cfg.database || "(chosen when connecting)"}`,
            `CA:        ${cfg.ca}`,
            `Cert:      ${cfg.cert}`,
            `Key:       ${cfg.key}`,
            `Valid:     until ${cfg.valid_until}`,
            "",
            cfg.protocol === "postgres"
              ? `psql "${pgConnString(cfg, cfg.database || "DBNAME")}"`
              : `jsh proxy db ${cfg.name} --tunnel --port PORT, then: mysql -h 127.0.0.1 -P PORT --protocol=TCP -u ${cfg.user}`,
          ].join("\n"),
        ),
      );
    });

  db.command("connect <name> [args...]")
    .description("log in if needed, then run psql or mysql against the database (extra ARGS go to the client)")
    .option("--db-user <user>", "database user to log in as")
    .option("--db-name <name>", "database name")
    .action(async (name: string, extra: string[], o: LoginFlags) => {
      process.exitCode = await dbConnect(profile(), name, { ...o, extra });
    });
}
