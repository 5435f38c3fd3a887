import { randomUUID } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { IssuedCerts } from "../auth/index.ts";
import { type Identity, formatIdentityFile } from "../client/identityfile.ts";
import { generateEcdsaP256, generateEd25519, knownHostsCaLine, parseSshPublicKey, sshPublicKeyLine } from "../crypto/index.ts";

/** Writes a file readable by its owner only, creating its folder 0700. */
export function writePrivate(path: string, data: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(path, data, { mode: 0o600 });
  chmodSync(path, 0o600);
}

/** The host's UUID, made once and kept in the data dir. */
export function hostUuid(dataDir: string): string {
  const path = join(dataDir, "host_uuid");
  if (existsSync(path)) return readFileSync(path, "utf8").trim();
  const id = randomUUID();
  writePrivate(path, `${id}\n`);
  return id;
}

export interface FreshKeys {
  ssh: ReturnType<typeof generateEd25519>;
  tls: ReturnType<typeof generateEcdsaP256>;
  sshPublicKey: string;
  tlsPublicKey: string;
}

export function freshKeys(): FreshKeys {
  const ssh = generateEd25519();
  const tls = generateEcdsaP256();
  return {
    ssh,
    tls,
    sshPublicKey: sshPublicKeyLine(ssh.publicKey),
    tlsPublicKey: tls.publicKey.export({ format: "pem", type: "spki" }).toString(),
  };
}

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
