/**
 * Application access for jsh (and jbot): the apps a user may reach, logging
 * in to one (a certificate whose identity carries the route to it), and where
 * those certificates live in the profile, next to the database ones:
 *
 *   keys/<proxy>/<user>-app/<cluster>/<name>.key   private key for app <name> (0600)
 *   keys/<proxy>/<user>-app/<cluster>/<name>.crt   its X.509 certificate (route-to-app inside)
 *   keys/<proxy>/cas/<cluster>.pem                 the host CA: verifies the proxy's app endpoint
 *
 * `jsh proxy app` (appproxy.ts) reads the same files through `loadAppCert`.
 */
import { createPrivateKey, createPublicKey } from "node:crypto";
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { AuthClient } from "../../api/authclient.ts";
import { storedFromProto } from "../../api/convert.ts";
import { badParameter, notFound } from "../../api/errors.ts";
import { type AppServer, appPublicAddr, appServerApp, appUriScheme } from "../../api/resources/index.ts";
import { decodeIdentity, generateEcdsaP256, type RouteToApp, sshPublicKeyLine } from "../crypto/index.ts";
import { writePrivate } from "./files.ts";
import { jshHome, keyPaths, loadCredentials, type Profile } from "./profile.ts";

/** An app as `jsh apps ls` shows it. */
export interface AppInfo {
  name: string;
  description: string;
  /** `http` for http(s) apps (the Application Service speaks HTTP to them), `tcp` for the others. */
  type: "http" | "tcp";
  /** host[:port] browsers reach it at: its public_addr, else NAME.<proxy host>. */
  publicAddr: string;
  labels: Record<string, string>;
}

const safe = (s: string) => s.replace(/[^A-Za-z0-9._@-]/g, "_");

export function appCertDir(p: Pick<Profile, "proxy" | "user" | "cluster">, home = jshHome()): string {
  return join(keyPaths(p, home).dir, `${safe(p.user)}-app`, safe(p.cluster));
}

export interface AppCertPaths {
  key: string;
  cert: string;
  /** The host CA, which signs the proxy's certificate inside the app route. */
  ca: string;
}

export function appCertPaths(p: Profile, name: string, home = jshHome()): AppCertPaths {
  const dir = appCertDir(p, home);
  return { key: join(dir, `${safe(name)}.key`), cert: join(dir, `${safe(name)}.crt`), ca: keyPaths(p, home).hostCas };
}

/** A saved app certificate: its files, route and expiry. */
export interface AppCert {
  name: string;
  paths: AppCertPaths;
  route: RouteToApp;
  expires: Date;
  /** PEM. */
  key: string;
  cert: string;
  /** Host CA certificates (PEM) that verify the proxy. */
  cas: string[];
}

/** The certificate saved by `jsh apps login NAME`; undefined when there is none (or it is for another app). */
export function findAppCert(p: Profile, name: string, home = jshHome()): AppCert | undefined {
  const paths = appCertPaths(p, name, home);
  if (!existsSync(paths.cert) || !existsSync(paths.key)) return undefined;
  const cert = readFileSync(paths.cert, "utf8");
  let id: ReturnType<typeof decodeIdentity>;
  try {
    id = decodeIdentity(cert);
  } catch {
    return undefined;
  }
  if (id.routeToApp?.name !== name) return undefined;
  const cas = existsSync(paths.ca) ? (readFileSync(paths.ca, "utf8").match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? []) : [];
  return { name, paths, route: id.routeToApp, expires: id.expires, key: readFileSync(paths.key, "utf8"), cert, cas };
}

/** Like findAppCert, failing with what to run when there is no valid certificate. */
export function loadAppCert(p: Profile, name: string, now = new Date(), home = jshHome()): AppCert {
  const c = findAppCert(p, name, home);
  if (!c) throw notFound(`not logged in to app "${name}"; run: jsh apps login ${name}`);
  if (c.expires.getTime() <= now.getTime()) throw badParameter(`your certificate for app "${name}" has expired; run: jsh apps login ${name}`);
  return c;
}

/** Names of the apps with a saved certificate (expired ones included). */
export function listAppCerts(p: Profile, home = jshHome()): string[] {
  const dir = appCertDir(p, home);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith(".crt"))
    .map((f) => f.slice(0, -4))
    .filter((n) => findAppCert(p, n, home) !== undefined)
    .sort();
}

/** Removes the certificates of one app, or of all; returns the names removed. */
export function removeAppCerts(p: Profile, name?: string, home = jshHome()): string[] {
  const names = name === undefined ? listAppCerts(p, home) : [name];
  const removed: string[] = [];
  for (const n of names) {
    const paths = appCertPaths(p, n, home);
    if (existsSync(paths.cert) || existsSync(paths.key)) removed.push(n);
    rmSync(paths.cert, { force: true });
    rmSync(paths.key, { force: true });
  }
  return removed;
}

/** `http` or `tcp`, from an app's uri scheme. */
export function appType(uri: string): "http" | "tcp" {
  return appUriScheme(uri) === "tcp" ? "tcp" : "http";
}

/** One row per app name from `app_server` entries (several services may serve one app), sorted. */
export function appsFromServers(servers: AppServer[], proxy: string): AppInfo[] {
  const byName = new Map<string, AppInfo>();
  for (const s of servers) {
    const { app, labels } = appServerApp(s);
    const name = app.metadata.name;
    if (byName.has(name)) continue;
    byName.set(name, {
      name,
      description: app.metadata.description ?? "",
      type: appType(app.spec.uri),
      publicAddr: appPublicAddr(app, proxy),
      labels,
    });
  }
  return [...byName.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * The apps the user may see: Auth lists only the app_server entries whose app
 * his roles' app_labels match. `proxyPublicAddr` is the proxy's public address
 * (its ping's `proxy.public_addr`), from which default public addresses derive.
 */
export async function listApps(auth: AuthClient, proxyPublicAddr: string): Promise<AppInfo[]> {
  const r = await auth.listResources({ kind: "app_server" });
  return appsFromServers(
    r.resources.map((x) => storedFromProto(x) as unknown as AppServer),
    proxyPublicAddr,
  );
}

export interface AppLoginOptions {
  name: string;
  /** Requested lifetime; Auth caps it by the roles and the profile's own certificate. */
  ttlSeconds?: number;
}

/**
 * `jsh apps login`: a new key pair and a certificate for one app, saved in the
 * profile. Auth checks the app exists and the roles allow it (and fills in the
 * public address and a new app session ID).
 */
export async function appLogin(auth: AuthClient, p: Profile, o: AppLoginOptions, home = jshHome()): Promise<AppCert> {
  const creds = loadCredentials(p, home);
  const key = generateEcdsaP256();
  const certs = await auth.generateUserCerts({
    sshPublicKey: sshPublicKeyLine(createPublicKey(creds.sshKey)),
    tlsPublicKey: key.publicKey.export({ format: "pem", type: "spki" }).toString(),
    ttlSeconds: BigInt(o.ttlSeconds ?? 0),
    routeToApp: { name: o.name },
  });
  const paths = appCertPaths(p, o.name, home);
  writePrivate(paths.key, key.privateKey.export({ format: "pem", type: "pkcs8" }).toString());
  writePrivate(paths.cert, certs.tlsCert.endsWith("\n") ? certs.tlsCert : `${certs.tlsCert}\n`);
  const saved = findAppCert(p, o.name, home);
  if (!saved) {
    removeAppCerts(p, o.name, home);
    throw badParameter(`the certificate Auth issued for app "${o.name}" carries no route to it`);
  }
  createPrivateKey(saved.key);
  return saved;
}
