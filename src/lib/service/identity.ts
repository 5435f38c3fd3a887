import { randomUUID } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { IssuedCerts } from "../auth/index.ts";
import { formatIdentityFile, type Identity, writePrivate } from "../client/index.ts";
import { generateKeySet, type KeySet, knownHostsCaLine, parseSshPublicKey } from "../crypto/index.ts";

/** The host's UUID, made once and kept in the data dir. */
export function hostUuid(dataDir: string): string {
  const path = join(dataDir, "host_uuid");
  if (existsSync(path)) return readFileSync(path, "utf8").trim();
  const id = randomUUID();
  writePrivate(path, `${id}\n`);
  return id;
}

export { writePrivate };

/** Fresh SSH and X.509 keys for one identity. */
export const freshKeys = generateKeySet;
export type FreshKeys = KeySet;

export function identityFrom(keys: FreshKeys, certs: IssuedCerts, hostCaSshKeys: string[]): Identity {
  return {
    sshKey: keys.ssh.privateKey,
    sshCert: certs.sshCert,
    tlsKey: keys.tls.privateKey,
    tlsCert: certs.tlsCert,
    tlsCas: certs.hostCaCerts,
    knownHosts: hostCaSshKeys.map((k) => knownHostsCaLine(parseSshPublicKey(k), certs.clusterName)),
  };
}

export function writeIdentityFile(path: string, id: Identity): void {
  writePrivate(path, formatIdentityFile(id));
}
