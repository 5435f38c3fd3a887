/**
 * Web sessions (docs/web-api.md): a browser signs in through the proxy and
 * gets an opaque cookie; Auth keeps the session with its own keys and
 * certificates, so the proxy can act as the user. Only a hash of the cookie is
 * stored, so a backend dump cannot be replayed as a browser session.
 */
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { isJumpgateError, unauthenticated } from "../../api/errors.ts";
import { lockMessage } from "../../api/resources/index.ts";
import { generateKeySet } from "../crypto/index.ts";
import { RecordStore } from "../services/index.ts";
import { checkerFor, DEFAULT_USER_TTL_MS } from "./certs.ts";
import type { AuthContext } from "./context.ts";
import { activeLock } from "./locks.ts";
import { authenticateUser } from "./login.ts";
import type { UserResource } from "./users.ts";

export const DEFAULT_WEB_IDLE_TIMEOUT_MS = 30 * 60_000;
/** Renewals are writes: at most one a minute per session (less for very short idle timeouts). */
export const WEB_RENEW_INTERVAL_MS = 60_000;
const MIN_IDLE_TIMEOUT_MS = 1000;

export const SESSION_EXPIRED = "your session has expired, sign in again";

export interface WebSessionRecord {
  id: string;
  user: string;
  csrfToken: string;
  created: string;
  /** Absolute expiry, also the certificates' expiry. */
  expires: string;
  /** Last renewal; the idle expiry counts from here. */
  lastActive: string;
  idleTimeoutMs: number;
  sshCert: string;
  sshPrivateKey: string;
  tlsCert: string;
  tlsPrivateKey: string;
}

/** What the proxy gets back; the cookie only when the session is created. */
export interface WebSessionView {
  id: string;
  cookie?: string;
  user: string;
  roles: string[];
  logins: string[];
  csrfToken: string;
  expires: Date;
  idleExpires: Date;
  idleTimeoutMs: number;
  clusterName: string;
  sshCert: string;
  sshPrivateKey: string;
  tlsCert: string;
  tlsPrivateKey: string;
  hostCaCerts: string[];
  acl: WebAcl;
}

export interface WebAcl {
  users: boolean;
  roles: boolean;
  tokens: boolean;
  audit: boolean;
  recordings: boolean;
  sessions: boolean;
}

/** Pages shown only when the roles allow listing and reading the kind behind them. */
const ACL_KINDS: Record<Exclude<keyof WebAcl, "recordings" | "sessions">, string> = {
  users: "user",
  roles: "role",
  tokens: "token",
  audit: "event",
};

export interface CreateWebSessionRequest {
  user: string;
  password: string;
  otp: string;
  clientAddr: string;
  /** Absent or 0: 30 minutes. */
  idleTimeoutMs?: number;
}

const store = (ctx: AuthContext) => new RecordStore<WebSessionRecord>(ctx.backend, "/web_sessions");
const keyOf = (cookie: string) => createHash("sha256").update(cookie).digest("hex");
const pem = (k: { privateKey: { export(o: { format: "pem"; type: "pkcs8" }): string | Buffer } }) =>
  k.privateKey.export({ format: "pem", type: "pkcs8" }).toString();

/** Signs a user in with the same checks, lockout and audit as `jsh login`, and opens a web session. */
export async function createWebSession(ctx: AuthContext, req: CreateWebSessionRequest): Promise<WebSessionView> {
  const keys = generateKeySet();
  const certs = await authenticateUser(ctx, {
    user: req.user,
    password: req.password,
    otp: req.otp,
    clientAddr: req.clientAddr,
    sshPublicKey: keys.sshPublicKey,
    tlsPublicKey: keys.tlsPublicKey,
    // issueUserCerts caps this by the roles' max_session_ttl: the certificates' expiry is the session's.
    ttlMs: DEFAULT_USER_TTL_MS,
  });
  const now = ctx.clock.now();
  const absoluteMs = certs.expires.getTime() - now.getTime();
  const idle = Math.min(Math.max(req.idleTimeoutMs || DEFAULT_WEB_IDLE_TIMEOUT_MS, MIN_IDLE_TIMEOUT_MS), absoluteMs);
  const cookie = randomBytes(32).toString("base64url");
  const rec: WebSessionRecord = {
    id: randomUUID(),
    user: certs.username,
    csrfToken: randomBytes(24).toString("base64url"),
    created: now.toISOString(),
    expires: certs.expires.toISOString(),
    lastActive: now.toISOString(),
    idleTimeoutMs: idle,
    sshCert: certs.sshCert,
    sshPrivateKey: pem(keys.ssh),
    tlsCert: certs.tlsCert,
    tlsPrivateKey: pem(keys.tls),
  };
  await store(ctx).create(keyOf(cookie), rec, backendExpiry(rec));
  const user = (await ctx.stores.users.get(rec.user)) as UserResource;
  return { ...(await view(ctx, rec, user)), cookie };
}

/**
 * Resolves a cookie to its session, against current state: an expired
 * session, a lock or a deleted user ends it here, on the next request.
 */
export async function authenticateWebSession(ctx: AuthContext, cookie: string): Promise<WebSessionView> {
  if (!cookie) throw unauthenticated("sign in first");
  const s = store(ctx);
  const key = keyOf(cookie);
  const found = await s.get(key);
  if (!found) throw unauthenticated(SESSION_EXPIRED);
  const rec = found.value;
  const now = ctx.clock.now().getTime();
  const end = async (message: string): Promise<never> => {
    await s.delete(key);
    throw unauthenticated(message);
  };
  if (now >= idleExpiry(rec) || now >= Date.parse(rec.expires)) return end(SESSION_EXPIRED);
  const user = (await ctx.stores.users.find(rec.user)) as UserResource | undefined;
  if (!user) return end(`your session has ended: user ${rec.user} no longer exists`);
  const lock = await activeLock(ctx, { user: rec.user, roles: user.spec.roles });
  if (lock) return end(`your session has ended: ${lockMessage(lock)}`);
  let current = rec;
  if (now - Date.parse(rec.lastActive) >= renewInterval(rec)) {
    const next = { ...rec, lastActive: new Date(now).toISOString() };
    try {
      await s.swap(key, found.revision, next, backendExpiry(next));
      current = next;
    } catch (e) {
      // Another request renewed it first; its renewal is as good as ours.
      if (!isJumpgateError(e, "compare-failed")) throw e;
    }
  }
  return view(ctx, current, user);
}

/** Signs out: the session is gone for every proxy at once. */
export async function deleteWebSession(ctx: AuthContext, cookie: string, clientAddr: string): Promise<void> {
  const s = store(ctx);
  const key = keyOf(cookie);
  const found = await s.get(key);
  if (!found) return;
  await s.delete(key);
  await ctx.audit.emit({ event: "user.logout", user: found.value.user, session_id: found.value.id, addr_remote: clientAddr });
}

function idleExpiry(rec: WebSessionRecord): number {
  return Date.parse(rec.lastActive) + rec.idleTimeoutMs;
}

function renewInterval(rec: WebSessionRecord): number {
  return Math.min(WEB_RENEW_INTERVAL_MS, rec.idleTimeoutMs / 10);
}

/** The backend drops a session at whichever expiry comes first, so dead sessions do not pile up. */
function backendExpiry(rec: WebSessionRecord): Date {
  return new Date(Math.min(idleExpiry(rec), Date.parse(rec.expires)));
}

async function view(ctx: AuthContext, rec: WebSessionRecord, user: UserResource): Promise<WebSessionView> {
  const checker = await checkerFor(ctx, user);
  const can = (kind: string) => checker.checkRule(kind, "list").allowed && checker.checkRule(kind, "read").allowed;
  // Recordings and active sessions are always shown: everyone may see at least
  // his own (the `access` preset's session rule is conditional, and trackers are
  // visible to whoever could join), and Auth filters both lists per user.
  const acl: WebAcl = {
    users: can(ACL_KINDS.users),
    roles: can(ACL_KINDS.roles),
    tokens: can(ACL_KINDS.tokens),
    audit: can(ACL_KINDS.audit),
    recordings: true,
    sessions: true,
  };
  const expires = new Date(rec.expires);
  const idleExpires = new Date(Math.min(idleExpiry(rec), expires.getTime()));
  return {
    id: rec.id,
    user: rec.user,
    roles: user.spec.roles,
    logins: checker.sshLogins(),
    csrfToken: rec.csrfToken,
    expires,
    idleExpires,
    idleTimeoutMs: rec.idleTimeoutMs,
    clusterName: ctx.config.clusterName,
    sshCert: rec.sshCert,
    sshPrivateKey: rec.sshPrivateKey,
    tlsCert: rec.tlsCert,
    tlsPrivateKey: rec.tlsPrivateKey,
    hostCaCerts: ctx.authorities.get("host").tlsCerts,
    acl,
  };
}
