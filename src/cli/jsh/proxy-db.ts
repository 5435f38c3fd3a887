/**
 * `jsh proxy db NAME [--port N] [--tunnel] [--db-user U] [--db-name N]`: a
 * local listener so unmodified clients (psql, pgbench, mysql, ORMs) reach a
 * database through the proxy. The work is in lib/client/dbproxy.ts.
 */
import type { Command } from "commander";
import { badParameter } from "../../api/errors.ts";
import { currentProfile, type DbCert, dbLogin, findDbCert, type Profile, startLocalDbProxy, userAuthClient } from "../../lib/client/index.ts";

interface ProxyDbFlags {
  port?: string;
  tunnel?: boolean;
  dbUser?: string;
  dbName?: string;
}

/** The saved certificate for NAME if it is valid and fits the flags, else a new one from Auth. */
async function certificateFor(p: Profile, name: string, o: ProxyDbFlags): Promise<DbCert> {
  const saved = findDbCert(p, name);
  if (
    saved &&
    saved.expires.getTime() > Date.now() + 30_000 &&
    (o.dbUser === undefined || o.dbUser === saved.route.username) &&
    (o.dbName === undefined || o.dbName === saved.route.database || saved.route.database === "")
  ) {
    return saved;
  }
  const auth = userAuthClient(p);
  try {
    return await dbLogin(auth, p, { name, ...(o.dbUser ? { dbUser: o.dbUser } : {}), ...(o.dbName ? { dbName: o.dbName } : {}) });
  } finally {
    auth.close();
  }
}

function parsePort(s: string | undefined): number {
  if (s === undefined) return 0;
  const n = Number(s);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw badParameter(`--port ${s}: want a port number`);
  return n;
}

/** What to print once the listener is up (Teleport's `tsh proxy db` shape). */
export function proxyDbBanner(o: { name: string; protocol: string; port: number; tunnel: boolean; user: string; database: string; cert?: DbCert }): string[] {
  const addr = `127.0.0.1:${o.port}`;
  const lines = [`Started ${o.tunnel ? "authenticated tunnel" : "DB proxy"} for the ${o.protocol} database "${o.name}" on ${addr}`, ""];
  if (!o.tunnel) {
    const c = o.cert;
    lines.push("Use the following command to connect (the client presents your database certificate):");
    if (c) {
      lines.push(
        `  psql "sslmode=verify-ca sslrootcert=${c.paths.ca} sslcert=${c.paths.cert} sslkey=${c.paths.key} host=127.0.0.1 port=${o.port} user=${o.user || "USER"} dbname=${o.database || "DBNAME"}"`,
      );
    }
  } else {
    lines.push("Use one of the following commands to connect (no certificate options needed):");
    if (o.protocol === "mysql") {
      lines.push(`  mysql -h 127.0.0.1 -P ${o.port} --protocol=TCP -u ${o.user || "USER"}${o.database ? ` ${o.database}` : ""}`);
    } else {
      lines.push(`  psql "host=127.0.0.1 port=${o.port} user=${o.user || "USER"} dbname=${o.database || "DBNAME"} sslmode=disable"`);
      lines.push(`  pgbench -h 127.0.0.1 -p ${o.port} -U ${o.user || "USER"} ${o.database || "DBNAME"}`);
    }
  }
  lines.push("", "Press Ctrl+C to stop.");
  return lines;
}

export async function proxyDb(proxy: string | undefined, name: string, o: ProxyDbFlags, print: (s: string) => void): Promise<void> {
  const p = currentProfile(proxy);
  const cert = await certificateFor(p, name, o);
  const protocol = cert.route.protocol === "mysql" ? "mysql" : "postgres";
  const tunnel = o.tunnel === true || protocol === "mysql";
  const local = await startLocalDbProxy({
    profile: p,
    database: { name, protocol },
    port: parsePort(o.port),
    tunnel,
    credentials: { cert: cert.cert, key: cert.key, hostCas: cert.cas },
    onError: (e) => process.stderr.write(`ERROR: ${e.message}\n`),
  });
  for (const l of proxyDbBanner({ name, protocol, port: local.port, tunnel, user: cert.route.username, database: o.dbName ?? cert.route.database, cert }))
    print(l);
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      void local.close().then(resolve);
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
}

/** Adds `db` under `jsh proxy`. */
export function registerProxyDb(program: Command, proxy: () => string | undefined, print: (s: string) => void): void {
  const parent = program.commands.find((c) => c.name() === "proxy") ?? program.command("proxy").description("local helpers for unmodified clients");
  parent
    .command("db <name>")
    .description("a local listener for database clients (psql, pgbench, mysql); --tunnel: no certificate options needed")
    .option("--port <port>", "local port (default: any free port)")
    .option("--tunnel", "authenticate each connection with your database certificate (always on for MySQL)")
    .option("--db-user <user>", "database user (logs in to the database again when it differs)")
    .option("--db-name <name>", "database name")
    .action(async (name: string, o: ProxyDbFlags) => {
      await proxyDb(proxy(), name, o, print);
    });
}
