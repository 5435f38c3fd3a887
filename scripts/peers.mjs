// Installs (Debian packages, as root) and starts the real programs the tests
// use, when they are missing. Safe to run repeatedly.
import { execSync, spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";

const need = [
  { bin: "/usr/sbin/sshd", pkg: "openssh-server" },
  { bin: "/usr/lib/openssh/sftp-server", pkg: "openssh-sftp-server" },
  { bin: "/usr/bin/setpriv", pkg: "util-linux" },
  { bin: "/usr/bin/pgrep", pkg: "procps" },
  { bin: "/usr/bin/ssh", pkg: "openssh-client" },
  { bin: "/usr/bin/openssl", pkg: "openssl" },
  { bin: "/usr/bin/psql", pkg: "postgresql-client" },
  { bin: "/usr/bin/pg_ctlcluster", pkg: "postgresql" },
  // Database access tests: MariaDB's server, and its clients (mysql, mysqladmin, mysqlslap).
  { bin: "/usr/bin/mysqld_safe", pkg: "mariadb-server" },
  { bin: "/usr/bin/mysqlslap", pkg: "mariadb-client" },
  // The web UI's browser tests drive it with playwright-core (which never downloads a browser).
  { bin: "/usr/bin/chromium", pkg: "chromium" },
  // Kubernetes access tests run the real kubectl against test/harness/fakekube.ts. Debian's
  // kubernetes-client is kubectl 1.20: its exec speaks only SPDY, which the fake does not
  // (exec needs kubectl >= 1.30, WebSocket), so a kubectl already on the PATH is kept.
  { bin: "/usr/bin/kubectl", pkg: "kubernetes-client", onPath: "kubectl" },
];

function sh(cmd) {
  return spawnSync("sh", ["-c", cmd], { stdio: "inherit" }).status === 0;
}

function isRoot() {
  return typeof process.getuid === "function" && process.getuid() === 0;
}

function onPath(name) {
  return spawnSync("sh", ["-c", `command -v ${name}`], { stdio: "ignore" }).status === 0;
}

export function ensurePackages() {
  const missing = need.filter((n) => !existsSync(n.bin) && !(n.onPath && onPath(n.onPath))).map((n) => n.pkg);
  if (missing.length === 0) return;
  if (!isRoot()) {
    console.error(`missing system packages: ${missing.join(" ")} (run as root, or install them)`);
    return;
  }
  console.log(`installing ${missing.join(" ")} from Debian packages...`);
  sh("apt-get update -qq");
  sh(`DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ${missing.join(" ")} >/dev/null`);
}

function pgReady() {
  return spawnSync("pg_isready", ["-h", "127.0.0.1", "-p", "5432", "-q"]).status === 0;
}

export function ensurePostgres() {
  if (pgReady()) return;
  if (!existsSync("/etc/postgresql")) return;
  for (const v of readdirSync("/etc/postgresql")) {
    sh(`pg_ctlcluster --skip-systemctl-redirect ${v} main start`);
  }
  for (let i = 0; i < 50 && !pgReady(); i++) execSync("sleep 0.2");
  if (!pgReady()) console.error("PostgreSQL on 127.0.0.1:5432 did not come up");
}

function mariadbReady() {
  return spawnSync("mysqladmin", ["-u", "root", "--connect-timeout=2", "ping"], { stdio: "ignore" }).status === 0;
}

export function ensureMariadb() {
  if (!existsSync("/usr/bin/mysqld_safe") || mariadbReady()) return;
  if (!sh("service mariadb start >/dev/null 2>&1")) sh("nohup mysqld_safe >/dev/null 2>&1 &");
  for (let i = 0; i < 75 && !mariadbReady(); i++) execSync("sleep 0.2");
  if (!mariadbReady()) console.error("MariaDB on 127.0.0.1:3306 did not come up");
}

export function ensurePeers() {
  ensurePackages();
  ensurePostgres();
  ensureMariadb();
}

if (import.meta.url === `file://${process.argv[1]}`) ensurePeers();
