/**
 * The local MariaDB server (127.0.0.1:3306) for tests: starts it if needed,
 * and hands out throwaway databases with their own user and password.
 *
 * Administration goes through the `mysql` client on the unix socket as the
 * OS user root, which Debian's MariaDB lets in as root@localhost
 * (unix_socket authentication) without a password.
 */
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";

export const MARIADB_HOST = "127.0.0.1";
export const MARIADB_PORT = 3306;

function ready(): boolean {
  return (
    spawnSync("mysqladmin", ["-u", "root", "--connect-timeout=2", "ping"], {
      stdio: "ignore",
    }).status === 0
  );
}

/** Makes sure the server accepts connections, starting it if it is down. */
export async function ensureMariadb(): Promise<void> {
  if (ready()) return;
  const started = spawnSync("service", ["mariadb", "start"], {
    stdio: "ignore",
  });
  if (started.status !== 0) {
    spawnSync("sh", ["-c", "nohup mysqld_safe >/dev/null 2>&1 &"], {
      stdio: "ignore",
    });
  }
  for (let i = 0; i < 150 && !ready(); i++) await new Promise((r) => setTimeout(r, 200));
  if (!ready()) throw new Error(`MariaDB on ${MARIADB_HOST}:${MARIADB_PORT} did not come up`);
}

/** Runs SQL as root through the unix socket; returns the tab-separated output. */
export function adminSql(sql: string): string {
  const r = spawnSync("mysql", ["-u", "root", "-N", "-B"], {
    input: sql,
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`mysql as root failed: ${r.stderr || r.error?.message}`);
  return r.stdout;
}

export interface ThrowawayMariadb {
  /** Database name. */
  name: string;
  /** A user with all privileges on the database, logging in from 127.0.0.1 and localhost. */
  user: string;
  password: string;
  /** Creates another user (same password rules) with all privileges on this database. */
  addUser(user: string, password: string): void;
  drop(): Promise<void>;
}

/** A uniquely named database and user; drop() removes both. */
export async function createThrowawayMariadb(): Promise<ThrowawayMariadb> {
  await ensureMariadb();
  const suffix = `${process.pid}_${randomBytes(4).toString("hex")}`;
  const name = `jg_test_${suffix}`;
  const users: string[] = [];
  const addUser = (user: string, password: string) => {
    users.push(user);
    const q = password.replaceAll("'", "''");
    adminSql(
      ["127.0.0.1", "localhost"]
        .map((h) => `CREATE OR REPLACE USER '${user}'@'${h}' IDENTIFIED BY '${q}'; GRANT ALL ON \`${name}\`.* TO '${user}'@'${h}';`)
        .join("\n"),
    );
  };
  const user = `jg_${randomBytes(5).toString("hex")}`;
  const password = randomBytes(12).toString("hex");
  adminSql(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4;`);
  addUser(user, password);
  let dropped = false;
  return {
    name,
    user,
    password,
    addUser,
    drop: async () => {
      if (dropped) return;
      dropped = true;
      const dropUsers = users.flatMap((u) => [`DROP USER IF EXISTS '${u}'@'127.0.0.1';`, `DROP USER IF EXISTS '${u}'@'localhost';`]);
      adminSql(`DROP DATABASE IF EXISTS \`${name}\`;\n${dropUsers.join("\n")}`);
    },
  };
}
