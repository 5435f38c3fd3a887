import type { AuthClient } from "../../api/authclient.ts";
import { badParameter } from "../../api/errors.ts";
import { parseDuration } from "../../api/resources/index.ts";
import { formatIdentityFile, writePrivate } from "../../lib/client/index.ts";
import {
  generateEcdsaP256,
  generateEd25519,
  jwksOf,
  knownHostsCaLine,
  parseSshPublicKey,
  sshPublicKeyLine,
  trustedUserCaKeysLine,
  writeOpenSshPrivateKey,
} from "../../lib/crypto/index.ts";
import { csv } from "./users.ts";

const EXPORT_TYPES = ["user", "host", "tls", "tls-host", "db", "jwt"] as const;

export async function authExport(auth: AuthClient, type: string): Promise<string> {
  if (!(EXPORT_TYPES as readonly string[]).includes(type)) {
    throw badParameter(`unknown --type "${type}"; use one of ${EXPORT_TYPES.join(", ")}`);
  }
  const caType = type === "tls" ? "user" : type === "tls-host" ? "host" : type;
  const r = await auth.exportAuthorities({ type: caType });
  switch (type) {
    case "user":
      return r.sshPublicKeys.map((k) => trustedUserCaKeysLine(parseSshPublicKey(k), `${r.clusterName} user CA`)).join("\n");
    case "host":
      return r.sshPublicKeys.map((k) => knownHostsCaLine(parseSshPublicKey(k), r.clusterName)).join("\n");
    case "jwt":
      // ExportAuthorities returns the jwt CA's public keys (PEM) in tlsCerts.
      return JSON.stringify(jwksOf(r.tlsCerts), null, 2);
    default:
      return r.tlsCerts.map((c) => c.trim()).join("\n");
  }
}

export interface SignOptions {
  user?: string;
  host?: string;
  format: string;
  out: string;
  ttl?: string;
}

/** Writes certificates for a user or host, in the files `tctl auth sign` writes. */
export async function authSign(auth: AuthClient, o: SignOptions): Promise<string> {
  if (!o.out) throw badParameter("name the output with --out PATH");
  if (!!o.user === !!o.host) throw badParameter("sign for exactly one of --user NAME or --host NAME");
  const ttlSeconds = o.ttl ? BigInt(Math.round(parseDuration(o.ttl) / 1000)) : 0n;
  if (o.format === "db") return signDatabaseServer(auth, o, ttlSeconds);
  const ssh = generateEd25519();
  const tls = generateEcdsaP256();
  const sshPublicKey = sshPublicKeyLine(ssh.publicKey);
  const tlsPublicKey = tls.publicKey.export({ format: "pem", type: "spki" }).toString();
  const certs = o.user
    ? await auth.generateUserCerts({ user: o.user, sshPublicKey, tlsPublicKey, ttlSeconds })
    : await (async () => {
        const names = csv(o.host);
        const [first = ""] = names;
        return auth.generateHostCerts({
          hostId: first,
          nodeName: first,
          principals: names,
          dnsNames: names,
          role: "node",
          sshPublicKey,
          tlsPublicKey,
          ttlSeconds,
        });
      })();
  const pem = (k: typeof tls.privateKey) => k.export({ format: "pem", type: "pkcs8" }).toString();
  const written: string[] = [];
  const put = (path: string, data: string) => {
    writePrivate(path, data.endsWith("\n") ? data : `${data}\n`);
    written.push(path);
  };
  switch (o.format) {
    case "openssh":
      put(o.out, writeOpenSshPrivateKey(ssh.privateKey));
      put(`${o.out}.pub`, sshPublicKey);
      put(`${o.out}-cert.pub`, certs.sshCert);
      break;
    case "tls":
      put(`${o.out}.key`, pem(tls.privateKey));
      put(`${o.out}.crt`, certs.tlsCert);
      put(`${o.out}.cas`, certs.hostCaCerts.join("\n"));
      break;
    case "identity":
      put(
        o.out,
        formatIdentityFile({
          sshKey: ssh.privateKey,
          sshCert: certs.sshCert,
          tlsKey: tls.privateKey,
          tlsCert: certs.tlsCert,
          tlsCas: certs.hostCaCerts,
          knownHosts: certs.sshCaKeys.map((k) => knownHostsCaLine(parseSshPublicKey(k), certs.clusterName)),
        }),
      );
      break;
    default:
      throw badParameter(`unknown --format "${o.format}"; use openssh, tls, identity or db`);
  }
  return `The credentials have been written to ${written.join(", ")}`;
}

/**
 * `--format db --host NAME[,ALIASES]`: the files a PostgreSQL or MySQL server
 * needs to take connections from Database Services: `P.key` and `P.crt` (its
 * server certificate, signed by the db CA, with every name as a SAN) and
 * `P.cas` (the db CA, to trust the services' client certificates).
 */
async function signDatabaseServer(auth: AuthClient, o: SignOptions, ttlSeconds: bigint): Promise<string> {
  if (!o.host) throw badParameter("--format db signs a database server's certificate: name it with --host NAME[,ALIASES]");
  const names = csv(o.host);
  if (names.length === 0) throw badParameter("name the database server with --host NAME[,ALIASES]");
  const key = generateEcdsaP256();
  const r = await auth.generateDatabaseCert({
    tlsPublicKey: key.publicKey.export({ format: "pem", type: "spki" }).toString(),
    serverNames: names,
    ttlSeconds,
  });
  const written: string[] = [];
  const put = (path: string, data: string) => {
    writePrivate(path, data.endsWith("\n") ? data : `${data}\n`);
    written.push(path);
  };
  put(`${o.out}.key`, key.privateKey.export({ format: "pem", type: "pkcs8" }).toString());
  put(`${o.out}.crt`, r.cert);
  put(`${o.out}.cas`, r.caCerts.map((c) => c.trim()).join("\n"));
  return [
    `Database credentials have been written to ${written.join(", ")} (valid until ${r.expires}).`,
    "",
    "PostgreSQL (postgresql.conf and pg_hba.conf):",
    "  ssl = on",
    `  ssl_cert_file = '${o.out}.crt'`,
    `  ssl_key_file = '${o.out}.key'`,
    `  ssl_ca_file = '${o.out}.cas'`,
    "  hostssl all all ::/0 cert",
    "  hostssl all all 0.0.0.0/0 cert",
    "",
    "MySQL / MariaDB (my.cnf, [mysqld]):",
    "  require_secure_transport = ON",
    `  ssl-cert = ${o.out}.crt`,
    `  ssl-key = ${o.out}.key`,
    `  ssl-ca = ${o.out}.cas`,
    "  and per user: ALTER USER 'alice'@'%' REQUIRE SUBJECT '/CN=alice';",
  ].join("\n");
}
