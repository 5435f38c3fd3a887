import { createPrivateKey, type KeyObject } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { badParameter, notFound } from "../../api/errors.ts";
import { parseOpenSshPrivateKey, parseSshPublicKey, writeOpenSshPrivateKey } from "../crypto/index.ts";

/**
 * The user's profile under ~/.jsh (JSH_HOME): which proxy and user are current,
 * and per proxy the keys, certificates and CAs. Files are 0600, folders 0700.
 *
 *   current-profile                 name of the current proxy
 *   <proxy>.yaml                    profile: proxy, user, cluster, insecure
 *   keys/<proxy>/<user>             SSH private key (OpenSSH format)
 *   keys/<proxy>/<user>.pub         SSH public key
 *   keys/<proxy>/<user>-cert.pub    SSH certificate (ssh -i picks it up)
 *   keys/<proxy>/<user>-x509.key    X.509 private key
 *   keys/<proxy>/<user>-x509.pem    X.509 certificate
 *   keys/<proxy>/cas/<cluster>.pem  host CA certificates (verify servers)
 *   keys/<proxy>/cas/<cluster>-user.pem  user CA certificates
 *   keys/<proxy>/cas/<cluster>-host-ssh  @cert-authority lines of the SSH host CA (verify nodes)
 *   known_hosts                     @cert-authority lines for each cluster
 */
export interface Profile {
  proxy: string;
  user: string;
  cluster: string;
  insecure: boolean;
}

export interface StoredCredentials {
  sshKey: KeyObject;
  sshCert: string;
  tlsKey: KeyObject;
  tlsCert: string;
  hostCaCerts: string[];
  userCaCerts: string[];
  /** `@cert-authority` lines trusting the cluster's SSH host CA keys. */
  knownHosts: string[];
}

export function jshHome(): string {
  return process.env.JSH_HOME || join(homedir(), ".jsh");
}

const safe = (s: string) => s.replace(/[^A-Za-z0-9._@-]/g, "_");

function writeSecret(path: string, data: string): void {
  writeFileSync(path, data.endsWith("\n") ? data : `${data}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
}

function dir(path: string): string {
  mkdirSync(path, { recursive: true, mode: 0o700 });
  chmodSync(path, 0o700);
  return path;
}

export function keyPaths(p: Pick<Profile, "proxy" | "user" | "cluster">, home = jshHome()) {
  const base = join(home, "keys", safe(p.proxy));
  const u = safe(p.user);
  return {
    dir: base,
    sshKey: join(base, u),
    sshPub: join(base, `${u}.pub`),
    sshCert: join(base, `${u}-cert.pub`),
    tlsKey: join(base, `${u}-x509.key`),
    tlsCert: join(base, `${u}-x509.pem`),
    hostCas: join(base, "cas", `${safe(p.cluster)}.pem`),
    userCas: join(base, "cas", `${safe(p.cluster)}-user.pem`),
    hostSshCas: join(base, "cas", `${safe(p.cluster)}-host-ssh`),
    knownHosts: join(home, "known_hosts"),
    profile: join(home, `${safe(p.proxy)}.yaml`),
  };
}

export function saveProfile(p: Profile, c: StoredCredentials, sshPublicKeyLine: string, home = jshHome()): void {
  dir(home);
  const paths = keyPaths(p, home);
  dir(paths.dir);
  dir(join(paths.dir, "cas"));
  writeSecret(paths.sshKey, writeOpenSshPrivateKey(c.sshKey, `${p.user}@${p.cluster}`));
  writeSecret(paths.sshPub, sshPublicKeyLine);
  writeSecret(paths.sshCert, c.sshCert);
  writeSecret(paths.tlsKey, c.tlsKey.export({ format: "pem", type: "pkcs8" }).toString());
  writeSecret(paths.tlsCert, c.tlsCert);
  writeSecret(paths.hostCas, c.hostCaCerts.join("\n"));
  writeSecret(paths.userCas, c.userCaCerts.join("\n"));
  writeSecret(paths.hostSshCas, c.knownHosts.join("\n"));
  const existing = existsSync(paths.knownHosts) ? readFileSync(paths.knownHosts, "utf8").split("\n") : [];
  const keep = existing.filter((l) => l.trim() && !c.knownHosts.includes(l.trim()));
  writeSecret(paths.knownHosts, [...keep, ...c.knownHosts].join("\n"));
  writeSecret(paths.profile, stringify(p));
  writeSecret(join(home, "current-profile"), safe(p.proxy));
}

export function currentProfile(proxy?: string, home = jshHome()): Profile {
  let name = proxy ? safe(proxy) : undefined;
  if (!name) {
    const cur = join(home, "current-profile");
    if (!existsSync(cur)) throw notFound("not logged in; run: jsh login --proxy=HOST:PORT --user=NAME");
    name = readFileSync(cur, "utf8").trim();
  }
  const path = join(home, `${name}.yaml`);
  if (!existsSync(path)) throw notFound(`not logged in to ${proxy ?? name}; run: jsh login --proxy=${proxy ?? name}`);
  const p = parse(readFileSync(path, "utf8")) as Partial<Profile> | null;
  if (!p?.proxy || !p.user || !p.cluster) throw badParameter(`profile ${path} is damaged; log in again`);
  return { proxy: p.proxy, user: p.user, cluster: p.cluster, insecure: !!p.insecure };
}

export function loadCredentials(p: Profile, home = jshHome()): StoredCredentials {
  const paths = keyPaths(p, home);
  const read = (f: string) => {
    try {
      return readFileSync(f, "utf8");
    } catch {
      throw notFound(`credentials for ${p.user} at ${p.proxy} are missing; run: jsh login --proxy=${p.proxy}`);
    }
  };
  const pemList = (f: string) => read(f).match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  return {
    sshKey: parseOpenSshPrivateKey(read(paths.sshKey)).privateKey,
    sshCert: read(paths.sshCert).trim(),
    tlsKey: createPrivateKey(read(paths.tlsKey)),
    tlsCert: read(paths.tlsCert),
    hostCaCerts: pemList(paths.hostCas),
    userCaCerts: pemList(paths.userCas),
    knownHosts: hostCaLines(p, paths),
  };
}

/** The cluster's `@cert-authority` lines: the profile's own, or (for a profile saved before it kept them) those for the cluster in known_hosts. */
function hostCaLines(p: Profile, paths: ReturnType<typeof keyPaths>): string[] {
  const lines = (f: string) =>
    existsSync(f)
      ? readFileSync(f, "utf8")
          .split("\n")
          .map((l) => l.trim())
      : [];
  const own = lines(paths.hostSshCas).filter((l) => l.startsWith("@cert-authority "));
  if (own.length > 0) return own;
  return lines(paths.knownHosts).filter((l) => l.split(/\s+/)[1] === `*.${p.cluster},${p.cluster}` && l.startsWith("@cert-authority "));
}

/** The SSH host CA public keys that `knownHosts` trusts: what nodes' host certificates must be signed by. */
export function trustedHostCaKeys(c: Pick<StoredCredentials, "knownHosts">): KeyObject[] {
  const keys: KeyObject[] = [];
  for (const line of c.knownHosts) {
    const [marker, , alg, b64] = line.trim().split(/\s+/);
    if (marker !== "@cert-authority" || !alg || !b64) continue;
    try {
      keys.push(parseSshPublicKey(`${alg} ${b64}`));
    } catch {
      // a line this version cannot read trusts nothing
    }
  }
  return keys;
}

export function removeProfile(p: Profile, home = jshHome()): void {
  const paths = keyPaths(p, home);
  for (const f of [paths.sshKey, paths.sshPub, paths.sshCert, paths.tlsKey, paths.tlsCert, paths.hostSshCas, paths.profile]) {
    rmSync(f, { force: true });
  }
  const cur = join(home, "current-profile");
  if (existsSync(cur) && readFileSync(cur, "utf8").trim() === safe(p.proxy)) rmSync(cur, { force: true });
}
