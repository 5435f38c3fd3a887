/**
 * Application and Kubernetes access in Auth (docs/app-access.md, docs/kubernetes-access.md):
 *
 * - routes: which app a certificate may name (`jsh apps login`, app sessions),
 *   checked against the caller's current roles (`app_labels`, deny wins);
 * - app sessions for browsers: the proxy, acting as a signed-in user, opens one
 *   for one app and gets a one-time launch token; at the app's own host it
 *   exchanges the token for the app-session cookie. Only hashes of the token
 *   and the cookie are stored. A session ends with the certificate it holds
 *   (never later than the web session's certificate it was opened with).
 */
import { createHash, generateKeyPairSync, randomBytes, randomUUID } from "node:crypto";
import { accessDenied, isJumpgateError, notFound, unauthenticated } from "../../api/errors.ts";
import { type AppServer, appPublicAddr, appServerApp, type KubeServer, kubeServerCluster, lockMessage } from "../../api/resources/index.ts";
import type { RouteToApp } from "../crypto/index.ts";
import type { AccessChecker } from "../rbac/index.ts";
import { RecordStore } from "../services/index.ts";
import { issueUserCerts } from "./certs.ts";
import type { AuthContext } from "./context.ts";
import { activeLock } from "./locks.ts";
import type { UserResource } from "./users.ts";

/** A launch token is exchanged within this time, once. */
export const APP_LAUNCH_TTL_MS = 60_000;
export const APP_SESSION_ENDED = "your app session has ended, open the app again from the web UI";

export interface ResolvedApp {
  name: string;
  uri: string;
  /** host[:port] browsers reach it at. */
  publicAddr: string;
}

/** The app `name` as announced by an Application Service, if `checker` allows it; refusals name the reason. */
export async function resolveAppFor(ctx: AuthContext, checker: AccessChecker, name: string): Promise<ResolvedApp> {
  const servers = (await ctx.stores.appServers.list()) as unknown as AppServer[];
  const matching = servers.filter((s) => s.spec.app.metadata.name === name);
  if (matching.length === 0) throw notFound(`app ${name} is not served by any Application Service (jsh apps ls lists the apps you may open)`);
  let reason = "";
  for (const s of matching) {
    const { app, labels } = appServerApp(s);
    const d = checker.checkAppAccess({ labels });
    if (d.allowed) return { name, uri: app.spec.uri, publicAddr: appPublicAddr(app, ctx.config.publicProxyAddr) };
    reason = d.reason;
  }
  throw accessDenied(`access to app ${name} denied: ${reason}`);
}

/** The route a certificate for `name` carries; a new session id each time. */
export async function appRouteFor(ctx: AuthContext, checker: AccessChecker, name: string): Promise<{ route: RouteToApp; app: ResolvedApp }> {
  const app = await resolveAppFor(ctx, checker, name);
  return { app, route: { name, publicAddr: app.publicAddr, clusterName: ctx.config.clusterName, sessionId: randomUUID() } };
}

interface AppSessionRecord {
  id: string;
  user: string;
  appName: string;
  appUri: string;
  publicAddr: string;
  created: string;
  expires: string;
  tlsCert: string;
  /** sha256 of the cookie once the launch token was exchanged. */
  cookieHash?: string;
}

export interface AppSessionView {
  id: string;
  user: string;
  appName: string;
  appUri: string;
  publicAddr: string;
  expires: Date;
  tlsCert: string;
  cookie?: string;
  launchToken?: string;
}

const sessions = (ctx: AuthContext) => new RecordStore<AppSessionRecord>(ctx.backend, "/app_sessions");
/** Launch tokens point at a session id; cookies at the same record under their own key. */
const launches = (ctx: AuthContext) => new RecordStore<{ id: string }>(ctx.backend, "/app_launches");
const cookies = (ctx: AuthContext) => new RecordStore<{ id: string }>(ctx.backend, "/app_cookies");
const hashOf = (secret: string) => createHash("sha256").update(secret).digest("hex");

/**
 * Opens an app session for `user` (the proxy calls as the user, with the web
 * session's certificate, whose expiry caps the session). Refusals are audited
 * as a failed `app.session.start`.
 */
export async function createAppSession(
  ctx: AuthContext,
  o: { user: UserResource; checker: AccessChecker; appName: string; notAfter: Date; clientAddr: string },
): Promise<AppSessionView> {
  let resolved: { route: RouteToApp; app: ResolvedApp };
  try {
    if (!o.appName) throw notFound("name the app to open");
    resolved = await appRouteFor(ctx, o.checker, o.appName);
    const lock = await activeLock(ctx, { user: o.user.metadata.name, roles: o.user.spec.roles });
    if (lock) throw accessDenied(lockMessage(lock));
  } catch (e) {
    await ctx.audit.emit({
      event: "app.session.start",
      success: false,
      user: o.user.metadata.name,
      app_name: o.appName,
      error: e instanceof Error ? e.message : String(e),
      addr_remote: o.clientAddr,
    });
    // Marked as audited: the API layer then writes no second (generic) refusal event.
    if (isJumpgateError(e, "access-denied")) throw accessDenied(e.message, "audited as app.session.start");
    throw e;
  }
  const { route, app } = resolved;
  const now = ctx.clock.now();
  const ttl = o.notAfter.getTime() - now.getTime();
  if (ttl <= 0) throw unauthenticated("your session has expired, sign in again");
  // The proxy forwards this certificate; it never proves possession of the key, so none is kept.
  const { publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const certs = await issueUserCerts(ctx, o.user, { sshPublicKey: "", tlsPublicKey: publicKey.export({ format: "pem", type: "spki" }).toString() }, ttl, {
    routeToApp: route,
    tlsOnly: true,
  });
  const rec: AppSessionRecord = {
    id: route.sessionId,
    user: o.user.metadata.name,
    appName: app.name,
    appUri: app.uri,
    publicAddr: app.publicAddr,
    created: now.toISOString(),
    expires: certs.expires.toISOString(),
    tlsCert: certs.tlsCert,
  };
  await sessions(ctx).create(rec.id, rec, certs.expires);
  const launchToken = randomBytes(32).toString("base64url");
  await launches(ctx).create(hashOf(launchToken), { id: rec.id }, new Date(now.getTime() + APP_LAUNCH_TTL_MS));
  return { ...viewOf(rec), launchToken };
}

/** The launch token's one use: the session gets its cookie (returned once). */
export async function exchangeAppLaunch(ctx: AuthContext, launchToken: string): Promise<AppSessionView> {
  const key = hashOf(launchToken);
  const found = await launches(ctx).get(key);
  if (!found) throw unauthenticated("this app link has expired or was used already, open the app again from the web UI");
  // Deleting first makes a replay of the same token fail even if it races us.
  await launches(ctx).delete(key);
  const rec = await live(ctx, found.value.id);
  const cookie = randomBytes(32).toString("base64url");
  const cookieHash = hashOf(cookie);
  await cookies(ctx).create(cookieHash, { id: rec.id }, new Date(rec.expires));
  await sessions(ctx).put(rec.id, { ...rec, cookieHash }, new Date(rec.expires));
  return { ...viewOf(rec), cookie };
}

/** Resolves an app-session cookie against current state (expiry, user, locks). */
export async function authenticateAppSession(ctx: AuthContext, cookie: string): Promise<AppSessionView> {
  if (!cookie) throw unauthenticated("open the app from the web UI first");
  const found = await cookies(ctx).get(hashOf(cookie));
  if (!found) throw unauthenticated(APP_SESSION_ENDED);
  return viewOf(await live(ctx, found.value.id));
}

export async function deleteAppSession(ctx: AuthContext, cookie: string): Promise<void> {
  const key = hashOf(cookie);
  const found = await cookies(ctx).get(key);
  if (!found) return;
  await cookies(ctx).delete(key);
  await sessions(ctx).delete(found.value.id);
}

async function live(ctx: AuthContext, id: string): Promise<AppSessionRecord> {
  const found = await sessions(ctx).get(id);
  if (!found) throw unauthenticated(APP_SESSION_ENDED);
  const rec = found.value;
  const end = async (why: string): Promise<never> => {
    await sessions(ctx).delete(id);
    if (rec.cookieHash) await cookies(ctx).delete(rec.cookieHash);
    throw unauthenticated(why);
  };
  if (ctx.clock.now().getTime() >= Date.parse(rec.expires)) return end(APP_SESSION_ENDED);
  const user = (await ctx.stores.users.find(rec.user)) as UserResource | undefined;
  if (!user) return end(`your app session has ended: user ${rec.user} no longer exists`);
  const lock = await activeLock(ctx, { user: rec.user, roles: user.spec.roles });
  if (lock) return end(`your app session has ended: ${lockMessage(lock)}`);
  return rec;
}

function viewOf(rec: AppSessionRecord): AppSessionView {
  return {
    id: rec.id,
    user: rec.user,
    appName: rec.appName,
    appUri: rec.appUri,
    publicAddr: rec.publicAddr,
    expires: new Date(rec.expires),
    tlsCert: rec.tlsCert,
  };
}

/**
 * The Kubernetes cluster a certificate from `jsh kube login` may name: one a
 * Kubernetes Service announces, whose labels the roles' kubernetes_labels
 * match with some kubernetes_users or kubernetes_groups allowed.
 */
export async function kubeClusterFor(ctx: AuthContext, checker: AccessChecker, name: string): Promise<string> {
  const servers = (await ctx.stores.kubeServers.list()) as unknown as KubeServer[];
  const matching = servers.filter((s) => s.spec.cluster.metadata.name === name);
  if (matching.length === 0) throw notFound(`Kubernetes cluster ${name} is not served by any Kubernetes Service (jsh kube ls lists the clusters you may use)`);
  let reason = "";
  for (const s of matching) {
    const d = checker.checkKubeAccess({ labels: kubeServerCluster(s).labels });
    if (d.allowed) return name;
    reason = d.reason;
  }
  throw accessDenied(`access to Kubernetes cluster ${name} denied: ${reason}`);
}
