/**
 * The local PostgreSQL server (127.0.0.1:5432) for tests: starts it if needed,
 * finds credentials that work, and hands out throwaway databases.
 *
 * On the project's machines 127.0.0.1 trusts the `postgres` role. On a fresh
 * Debian install it asks for a password instead; then, as root, we set one for
 * our own role `jumpgate_test` through the unix socket (`su postgres -c psql`).
 */
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync } from "node:fs";
import pg from "pg";

const HOST = "127.0.0.1";
const PORT = 5432;
const TEST_ROLE = "jumpgate_test";

let adminUrl: URL | undefined;

function ready(): boolean {
  return spawnSync("pg_isready", ["-h", HOST, "-p", String(PORT), "-q"]).status === 0;
}

/** Makes sure the server accepts connections on 127.0.0.1:5432, starting the cluster if it is down. */
export async function ensurePostgres(): Promise<void> {
  if (ready()) return;
  if (!existsSync("/etc/postgresql")) throw new Error("PostgreSQL is not installed (no /etc/postgresql)");
  for (const version of readdirSync("/etc/postgresql")) {
    spawnSync("pg_ctlcluster", ["--skip-systemctl-redirect", version, "main", "start"], { stdio: "ignore" });
  }
  for (let i = 0; i < 100 && !ready(); i++) await new Promise((r) => setTimeout(r, 100));
  if (!ready()) throw new Error(`PostgreSQL on ${HOST}:${PORT} did not come up`);
}

async function canConnect(url: URL): Promise<boolean> {
  const c = new pg.Client({ connectionString: url.toString(), connectionTimeoutMillis: 5000 });
  c.on("error", () => undefined);
  try {
    await c.connect();
    await c.query("SELECT 1");
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** Gives `jumpgate_test` a fresh password through the unix socket, as the postgres OS user. */
function setTestRolePassword(password: string): void {
  const sql = `DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${TEST_ROLE}') THEN
      CREATE ROLE ${TEST_ROLE} LOGIN SUPERUSER CREATEDB;
    END IF;
  END $$;
  ALTER ROLE ${TEST_ROLE} LOGIN SUPERUSER CREATEDB PASSWORD '${password}';`;
  const r = spawnSync("su", ["postgres", "-c", "psql -q -X -v ON_ERROR_STOP=1 -d postgres"], {
    input: sql,
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`cannot set up the ${TEST_ROLE} role: ${r.stderr || r.error?.message}`);
}

/** A connection URL to the `postgres` database with rights to create databases. */
async function admin(): Promise<URL> {
  if (adminUrl !== undefined) return adminUrl;
  await ensurePostgres();
  for (const user of ["postgres", "root"]) {
    const url = new URL(`postgres://${user}@${HOST}:${PORT}/postgres`);
    if (await canConnect(url)) {
      adminUrl = url;
      return url;
    }
  }
  const password = randomBytes(18).toString("hex");
  setTestRolePassword(password);
  const url = new URL(`postgres://${TEST_ROLE}:${password}@${HOST}:${PORT}/postgres`);
  if (!(await canConnect(url))) throw new Error(`cannot connect to PostgreSQL on ${HOST}:${PORT} as ${TEST_ROLE}`);
  adminUrl = url;
  return url;
}

async function adminQuery(sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: (await admin()).toString() });
  c.on("error", () => undefined);
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end().catch(() => undefined);
  }
}

export interface ThrowawayDatabase {
  connString: string;
  name: string;
  drop(): Promise<void>;
}

/** Creates a uniquely named database; drop() removes it, closing any connection still open to it. */
export async function createThrowawayDatabase(): Promise<ThrowawayDatabase> {
  const name = `jumpgate_test_${process.pid}_${randomBytes(4).toString("hex")}`;
  await adminQuery(`CREATE DATABASE ${name} TEMPLATE template0 ENCODING 'UTF8'`);
  const url = new URL((await admin()).toString());
  url.pathname = `/${name}`;
  let dropped = false;
  return {
    name,
    connString: url.toString(),
    drop: async () => {
      if (dropped) return;
      dropped = true;
      await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}
