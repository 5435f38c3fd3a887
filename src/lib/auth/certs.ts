import { randomUUID } from "node:crypto";
import { accessDenied, badParameter } from "../../api/errors.ts";
import type { Role } from "../../api/resources/index.ts";
import {
  formatCertificateLine,
  type Identity,
  issueClientCertificate,
  issueServerCertificate,
  parseSshPublicKey,
  type RouteToApp,
  type RouteToDatabase,
  SubjectPublicKey,
  signHostCertificate,
  signUserCertificate,
} from "../crypto/index.ts";
import { AccessChecker } from "../rbac/index.ts";
import type { AuthContext } from "./context.ts";
import type { UserResource } from "./users.ts";

export const DEFAULT_USER_TTL_MS = 12 * 3600_000;
export const DEFAULT_HOST_TTL_MS = 24 * 3600_000;
export const MIN_TTL_MS = 60_000;

export interface IssuedCerts {
  sshCert: string;
  tlsCert: string;
  tlsCaCerts: string[];
  hostCaCerts: string[];
  sshCaKeys: string[];
  clusterName: string;
  username: string;
  roles: string[];
  logins: string[];
  expires: Date;
  hostId?: string;
}

export interface PublicKeys {
  sshPublicKey: string;
  tlsPublicKey: string;
}

function parseKeys(keys: PublicKeys) {
  let ssh: ReturnType<typeof parseSshPublicKey>;
  try {
    ssh = parseSshPublicKey(keys.sshPublicKey);
  } catch {
    throw badParameter("the SSH public key is not a valid OpenSSH public key");
  }
  return { ssh, tls: parseTlsKey(keys.tlsPublicKey) };
}

function parseTlsKey(pem: string): SubjectPublicKey {
  try {
    return SubjectPublicKey.fromPem(pem);
  } catch {
    throw badParameter("the TLS public key is not a valid PEM public key");
  }
}

export async function rolesOf(ctx: AuthContext, names: string[]) {
  const roles = [];
  for (const n of names) {
    const r = await ctx.stores.roles.find(n);
    // A deleted role grants nothing; it is skipped rather than failing the login.
    if (r) roles.push(r);
  }
  return roles;
}

/**
 * Compiled checkers, per backend, keyed by the exact role revisions and traits
 * they were compiled from. The roles are still read from the backend on every
 * call: an edited role has a new revision and a deleted one is missing, so
 * either changes the key and takes effect at once. Only the compiling is saved.
 */
const compiledCheckers = new WeakMap<object, Map<string, AccessChecker>>();
const MAX_COMPILED_CHECKERS = 1000;

export async function checkerFor(ctx: AuthContext, user: UserResource): Promise<AccessChecker> {
  const roles = await rolesOf(ctx, user.spec.roles);
  if (roles.some((r) => r.metadata.revision === undefined)) return new AccessChecker(roles as unknown as Role[], user.spec.traits);
  const key = JSON.stringify([roles.map((r) => [r.metadata.name, r.metadata.revision]), user.spec.traits]);
  let cache = compiledCheckers.get(ctx.backend);
  if (!cache) {
    cache = new Map();
    compiledCheckers.set(ctx.backend, cache);
  }
  const hit = cache.get(key);
  if (hit) return hit;
  // Traits are copied so that the cached checker cannot change with the caller's object.
  const checker = new AccessChecker(roles as unknown as Role[], structuredClone(user.spec.traits));
  if (cache.size >= MAX_COMPILED_CHECKERS) cache.clear();
  cache.set(key, checker);
  return checker;
}

/** Issues a user's SSH and X.509 certificates, with TTL capped by the roles' max_session_ttl. */
export async function issueUserCerts(
  ctx: AuthContext,
  user: UserResource,
  keys: PublicKeys,
  requestedTtlMs: number | undefined,
  /** routeToDatabase must have passed checkDatabaseRoute (databases.ts). */
  extra: { mfaVerified?: boolean; routeToDatabase?: RouteToDatabase; routeToApp?: RouteToApp; kubernetesCluster?: string; tlsOnly?: boolean } = {},
): Promise<IssuedCerts> {
  // App sessions get an X.509 certificate only (no SSH key is sent for them).
  const { ssh, tls } = extra.tlsOnly ? { ssh: undefined, tls: parseTlsKey(keys.tlsPublicKey) } : parseKeys(keys);
  const checker = await checkerFor(ctx, user);
  const ttl = Math.max(MIN_TTL_MS, Math.min(requestedTtlMs || DEFAULT_USER_TTL_MS, checker.maxSessionTtlMs()));
  const logins = checker.sshLogins();
  const perms = checker.certPermissions();
  const userCa = ctx.authorities.get("user");
  const hostCa = ctx.authorities.get("host");
  if (!userCa.sshSigner || !userCa.tlsSigner) throw accessDenied("this Auth Service cannot sign user certificates");
  const now = ctx.clock.now();
  const expires = new Date(now.getTime() + ttl);
  const name = user.metadata.name;
  const sshCert =
    ssh === undefined
      ? undefined
      : signUserCertificate({
          publicKey: ssh,
          caKey: userCa.sshSigner,
          keyId: name,
          // No principals would mean "any login" to OpenSSH: a user without logins gets one nobody has.
          principals: logins.length > 0 ? logins : [`-jumpgate-nologin-${randomUUID()}`],
          ttlMs: ttl,
          clock: ctx.clock,
          permitPty: perms.permitPty,
          permitPortForwarding: perms.permitPortForwarding,
          permitAgentForwarding: perms.permitAgentForwarding,
          permitX11Forwarding: perms.permitX11Forwarding,
          roles: user.spec.roles,
          traits: user.spec.traits,
          routeToCluster: ctx.config.clusterName,
          activeRequests: [],
        });
  const identity: Identity = {
    kind: "user",
    username: name,
    roles: user.spec.roles,
    logins,
    traits: user.spec.traits,
    routeToCluster: ctx.config.clusterName,
    kubernetesGroups: [],
    kubernetesUsers: [],
    activeRequests: [],
    mfaVerified: extra.mfaVerified ?? false,
    expires,
    systemRoles: [],
    clusterName: ctx.config.clusterName,
  };
  if (extra.routeToDatabase) identity.routeToDatabase = extra.routeToDatabase;
  if (extra.routeToApp) identity.routeToApp = extra.routeToApp;
  if (extra.kubernetesCluster) identity.kubernetesCluster = extra.kubernetesCluster;
  const tlsCert = await issueClientCertificate({
    caCert: userCa.tlsSigner.cert,
    caKey: userCa.tlsSigner.key,
    publicKey: tls,
    identity,
    ttlMs: ttl,
    clock: ctx.clock,
  });
  const db = extra.routeToDatabase;
  await ctx.audit.emit({
    event: "cert.create",
    user: name,
    cert_type: "user",
    ttl_seconds: Math.round(ttl / 1000),
    ...(db ? { db_service: db.serviceName, db_protocol: db.protocol, db_user: db.username, db_name: db.database } : {}),
    ...(extra.routeToApp ? { app_name: extra.routeToApp.name, sid: extra.routeToApp.sessionId } : {}),
    ...(extra.kubernetesCluster ? { kubernetes_cluster: extra.kubernetesCluster } : {}),
  });
  return {
    sshCert: sshCert === undefined ? "" : formatCertificateLine(sshCert),
    tlsCert,
    tlsCaCerts: userCa.tlsCerts,
    hostCaCerts: hostCa.tlsCerts,
    sshCaKeys: hostCa.sshPublicKeys,
    clusterName: ctx.config.clusterName,
    username: name,
    roles: user.spec.roles,
    logins,
    expires,
  };
}

export interface HostCertRequest extends PublicKeys {
  hostId: string;
  nodeName: string;
  role: string;
  principals: string[];
  dnsNames: string[];
  ttlMs?: number;
}

/** Host certificates: SSH for the node's sshd-side identity, X.509 for mTLS with Auth. */
export async function issueHostCerts(ctx: AuthContext, req: HostCertRequest): Promise<IssuedCerts> {
  const { ssh, tls } = parseKeys(req);
  const hostCa = ctx.authorities.get("host");
  const userCa = ctx.authorities.get("user");
  if (!hostCa.sshSigner || !hostCa.tlsSigner) throw accessDenied("this Auth Service cannot sign host certificates");
  const ttl = req.ttlMs ?? DEFAULT_HOST_TTL_MS;
  const cluster = ctx.config.clusterName;
  // NODENAME.CLUSTER lets OpenSSH, pointed at `node.cluster` by `jsh config`, match the certificate.
  const principals = [...new Set([req.hostId, `${req.hostId}.${cluster}`, req.nodeName, `${req.nodeName}.${cluster}`, ...req.principals])];
  const sshCert = signHostCertificate({
    publicKey: ssh,
    caKey: hostCa.sshSigner,
    hostId: req.hostId,
    clusterName: cluster,
    principals,
    role: req.role,
    ttlMs: ttl,
    clock: ctx.clock,
  });
  const expires = new Date(ctx.clock.now().getTime() + ttl);
  const identity: Identity = {
    kind: "host",
    username: req.hostId,
    roles: [],
    logins: [],
    traits: {},
    kubernetesGroups: [],
    kubernetesUsers: [],
    activeRequests: [],
    expires,
    systemRoles: [req.role],
    hostId: req.hostId,
    nodeName: req.nodeName,
    clusterName: cluster,
  };
  const tlsCert = await issueServerCertificate({
    caCert: hostCa.tlsSigner.cert,
    caKey: hostCa.tlsSigner.key,
    publicKey: tls,
    commonName: req.hostId,
    dnsNames: [...new Set([req.nodeName, `${req.hostId}.${cluster}`, ...req.dnsNames])],
    ipAddresses: [],
    identity,
    ttlMs: ttl,
    clock: ctx.clock,
  });
  await ctx.audit.emit({ event: "cert.create", user: req.hostId, cert_type: "host", role: req.role });
  return {
    sshCert: formatCertificateLine(sshCert),
    tlsCert,
    tlsCaCerts: hostCa.tlsCerts,
    hostCaCerts: hostCa.tlsCerts,
    sshCaKeys: userCa.sshPublicKeys,
    clusterName: cluster,
    username: req.hostId,
    roles: [req.role],
    logins: [],
    expires,
    hostId: req.hostId,
  };
}
