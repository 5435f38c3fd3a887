/**
 * A private, throwaway PostgreSQL cluster for the tests the shared server on
 * 127.0.0.1:5432 cannot serve: it trusts every local login, so it never asks
 * for a password and has no TLS. This one runs on a free port with TLS on and
 * asks each test role for a different kind of login:
 *
 *   scram_user  scram-sha-256      md5_user   md5
 *   clear_user  password           cert_user  client certificate (hostssl)
 *   everyone else: trust
 *
 * Needs root (the server runs as the `postgres` OS user); `startCluster`
 * returns undefined when it cannot run here, and the tests skip.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

const BIN = "/usr/lib/postgresql/15/bin";

export const PASSWORD = "s3cret-pässword";

export interface TestCluster {
  port: number;
  /** The CA that signs the server's certificate and the client certificates it accepts. */
  caCert: string;
  /** A client certificate for `user` signed by the cluster's CA. */
  clientCert(user: string): { cert: string; key: string };
  /** Runs SQL as the superuser through the unix socket. */
  sql(text: string): string;
  stop(): void;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      s.close(() => (typeof a === "object" && a ? resolve(a.port) : reject(new Error("no port"))));
    });
  });
}

function run(cmd: string, args: string[], input?: string): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", input });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${r.stderr || r.error?.message}`);
  return r.stdout;
}

function asPostgres(command: string, input?: string): string {
  return run("su", ["postgres", "-c", command], input);
}

function openssl(dir: string, args: string[]): void {
  run(
    "openssl",
    args.map((a) => a.replaceAll("@", dir)),
  );
}

export async function startCluster(): Promise<TestCluster | undefined> {
  if (process.getuid?.() !== 0 || spawnSync(`${BIN}/initdb`, ["--version"]).status !== 0) return undefined;
  const dir = mkdtempSync(join(tmpdir(), "jg-pg-"));
  const data = join(dir, "data");
  const port = await freePort();
  // The CA, the server's certificate (CN 127.0.0.1, IP SAN) and its key.
  openssl(
    dir,
    ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2"].concat([
      "-subj",
      "/CN=jumpgate test db CA",
      "-keyout",
      "@/ca.key",
      "-out",
      "@/ca.crt",
    ]),
  );
  openssl(
    dir,
    ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=127.0.0.1"].concat([
      "-keyout",
      "@/server.key",
      "-out",
      "@/server.csr",
    ]),
  );
  writeFileSync(join(dir, "san.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  openssl(
    dir,
    ["x509", "-req", "-in", "@/server.csr", "-CA", "@/ca.crt", "-CAkey", "@/ca.key", "-CAcreateserial"].concat([
      "-days",
      "2",
      "-extfile",
      "@/san.ext",
      "-out",
      "@/server.crt",
    ]),
  );
  const pgUid = Number(run("id", ["-u", "postgres"]).trim());
  const pgGid = Number(run("id", ["-g", "postgres"]).trim());
  chownSync(dir, pgUid, pgGid);
  for (const f of ["ca.crt", "server.crt", "server.key"]) {
    chownSync(join(dir, f), pgUid, pgGid);
    chmodSync(join(dir, f), 0o600);
  }
  asPostgres(`${BIN}/initdb -D ${data} -A trust -U postgres --no-sync -E UTF8`);
  writeFileSync(
    join(data, "postgresql.auto.conf"),
    [
      `port = ${port}`,
      "listen_addresses = '127.0.0.1'",
      `unix_socket_directories = '${dir}'`,
      "ssl = on",
      `ssl_cert_file = '${dir}/server.crt'`,
      `ssl_key_file = '${dir}/server.key'`,
      `ssl_ca_file = '${dir}/ca.crt'`,
      "fsync = off",
      "max_connections = 40",
      "shared_buffers = 16MB",
      "",
    ].join("\n"),
  );
  writeFileSync(
    join(data, "pg_hba.conf"),
    [
      "local all all trust",
      "hostssl all cert_user 127.0.0.1/32 cert",
      "host all scram_user 127.0.0.1/32 scram-sha-256",
      "host all md5_user 127.0.0.1/32 md5",
      "host all clear_user 127.0.0.1/32 password",
      "host all all 127.0.0.1/32 trust",
      "",
    ].join("\n"),
  );
  const stop = () => {
    spawnSync("su", ["postgres", "-c", `${BIN}/pg_ctl stop -D ${data} -m immediate`], { stdio: "ignore" });
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    asPostgres(`${BIN}/pg_ctl start -w -D ${data} -l ${dir}/log`);
    const sql = (text: string) => asPostgres(`${BIN}/psql -X -q -At -v ON_ERROR_STOP=1 -h ${dir} -p ${port} -U postgres -d postgres`, text);
    const pw = PASSWORD.replaceAll("'", "''");
    sql(
      [
        `CREATE ROLE scram_user LOGIN PASSWORD '${pw}';`,
        "SET password_encryption = 'md5';",
        `CREATE ROLE md5_user LOGIN PASSWORD '${pw}';`,
        "RESET password_encryption;",
        `CREATE ROLE clear_user LOGIN PASSWORD '${pw}';`,
        "CREATE ROLE cert_user LOGIN;",
      ].join("\n"),
    );
    const clientCert = (user: string) => {
      const out = mkdtempSync(join(tmpdir(), "jg-pgc-"));
      try {
        writeFileSync(join(out, "ca.crt"), readFileSync(join(dir, "ca.crt")));
        writeFileSync(join(out, "ca.key"), readFileSync(join(dir, "ca.key")));
        openssl(
          out,
          ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", `/CN=${user}`].concat(["-keyout", "@/c.key", "-out", "@/c.csr"]),
        );
        openssl(out, ["x509", "-req", "-in", "@/c.csr", "-CA", "@/ca.crt", "-CAkey", "@/ca.key", "-CAcreateserial"].concat(["-days", "1", "-out", "@/c.crt"]));
        return {
          cert: readFileSync(join(out, "c.crt"), "utf8"),
          key: readFileSync(join(out, "c.key"), "utf8"),
        };
      } finally {
        rmSync(out, { recursive: true, force: true });
      }
    };
    return {
      port,
      caCert: readFileSync(join(dir, "ca.crt"), "utf8"),
      clientCert,
      sql,
      stop,
    };
  } catch (e) {
    stop();
    throw e;
  }
}
