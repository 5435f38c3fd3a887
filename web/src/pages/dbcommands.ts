// The exact `jsh` command lines for one database, as docs/database-access.md
// describes them (flags of src/cli/jsh/db.ts and src/cli/jsh/proxy-db.ts).

export interface DbCommandInput {
  /** The proxy's public address, HOST:PORT. */
  proxy: string;
  /** The Jumpgate user signed in to the web UI. */
  user: string;
  /** The database's name (what `jsh db` takes). */
  name: string;
  /** `postgres` or `mysql`. */
  protocol: string;
  /** The database user; "" when none is chosen yet. */
  dbUser: string;
  /** The database name; "" for none (the client's choice, checked when it connects). */
  dbName: string;
  /** The local port of `jsh proxy db --tunnel`. */
  port: number;
}

export interface DbCommands {
  login: string;
  dbLogin: string;
  connect: string;
  proxy: string;
  /** The psql or mysql line for the local tunnel. */
  client: string;
  clientName: "psql" | "mysql";
}

const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** One shell word, quoted only when it needs to be. */
export function shellWord(s: string): string {
  return SAFE.test(s) ? s : singleQuoted(s);
}

function singleQuoted(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** A libpq keyword value (quoted as libpq wants when it has spaces, quotes or backslashes). */
function pgValue(v: string): string {
  return /^[^\s'\\"]+$/.test(v) ? v : `'${v.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

/** Values shown when the user has not chosen one yet. */
export const DB_USER_PLACEHOLDER = "DBUSER";
export const DB_NAME_PLACEHOLDER = "DBNAME";

/** HOST:PORT of the page's own origin: the web UI is served by the proxy on its public port. */
export function proxyFromLocation(loc: Pick<Location, "hostname" | "port" | "protocol">): string {
  const port = loc.port || (loc.protocol === "http:" ? "80" : "443");
  return `${loc.hostname}:${port}`;
}

export function dbCommands(o: DbCommandInput): DbCommands {
  const mysql = o.protocol === "mysql";
  const user = o.dbUser || DB_USER_PLACEHOLDER;
  // psql needs a database name; mysql and `jsh db login` do not.
  const nameForClient = o.dbName || (mysql ? "" : DB_NAME_PLACEHOLDER);
  const name = shellWord(o.name);
  const userFlag = `--db-user=${shellWord(user)}`;
  const nameFlag = (n: string) => (n ? ` --db-name=${shellWord(n)}` : "");
  const conninfo = `host=127.0.0.1 port=${o.port} user=${pgValue(user)} dbname=${pgValue(nameForClient)} sslmode=disable`;
  const client = mysql
    ? `mysql -h 127.0.0.1 -P ${o.port} --protocol=TCP -u ${shellWord(user)}${nameForClient ? ` ${shellWord(nameForClient)}` : ""}`
    : `psql ${/["$`\\!]/.test(conninfo) ? singleQuoted(conninfo) : `"${conninfo}"`}`;
  return {
    login: `jsh login --proxy=${shellWord(o.proxy)} --user=${shellWord(o.user)}`,
    dbLogin: `jsh db login ${name} ${userFlag}${nameFlag(o.dbName)}`,
    connect: `jsh db connect ${name} ${userFlag}${nameFlag(nameForClient)}`,
    proxy: `jsh proxy db ${name} --tunnel --port=${o.port} ${userFlag}${nameFlag(o.dbName)}`,
    client,
    clientName: mysql ? "mysql" : "psql",
  };
}
