import { randomBytes } from "node:crypto";
import { accessDenied, badParameter, isJumpgateError, notFound } from "../../api/errors.ts";
import type { StoredResource } from "../services/index.ts";
import type { AuthContext } from "./context.ts";
import { checkPasswordStrength, hashPassword } from "./password.ts";
import type { UserSecrets, UserToken } from "./secrets.ts";
import { newTotpEnrollment, verifyTotp } from "./totp.ts";
import { validateResource } from "./validate.ts";

export interface UserResource extends StoredResource {
  kind: "user";
  spec: { roles: string[]; traits: Record<string, string[]> };
}

export interface Invite {
  token: string;
  url: string;
  expires: Date;
}

const USER_NAME = /^[a-zA-Z0-9][a-zA-Z0-9._@-]{0,127}$/;

export function checkUserName(name: string): void {
  if (!USER_NAME.test(name)) {
    throw badParameter(`user name "${name}" is not valid: use letters, digits, ".", "_", "@" and "-"`);
  }
}

async function requireRolesExist(ctx: AuthContext, roles: string[]): Promise<void> {
  for (const r of roles) {
    if (!(await ctx.stores.roles.find(r))) throw notFound(`role "${r}" does not exist`);
  }
}

export async function createUser(
  ctx: AuthContext,
  req: { name: string; roles: string[]; traits: Record<string, string[]>; actor: string },
): Promise<{ user: UserResource; invite: Invite }> {
  checkUserName(req.name);
  if (req.roles.length === 0) throw badParameter("a user needs at least one role (--roles)");
  await requireRolesExist(ctx, req.roles);
  const doc = validateResource({
    kind: "user",
    version: "v2",
    metadata: { name: req.name },
    spec: { roles: req.roles, traits: req.traits, created_by: { time: ctx.clock.now().toISOString(), user: { name: req.actor } } },
  }) as UserResource;
  const user = (await ctx.stores.users.create(doc)) as UserResource;
  await ctx.stores.secrets.put(req.name, { login: { failures: [] } });
  const invite = await createUserToken(ctx, req.name, "invite");
  await ctx.audit.emit({ event: "user.create", user: req.actor, name: req.name, roles: req.roles });
  return { user, invite };
}

export async function updateUser(
  ctx: AuthContext,
  req: { name: string; roles?: string[]; traits?: Record<string, string[]>; actor: string },
): Promise<UserResource> {
  const current = (await ctx.stores.users.get(req.name)) as UserResource;
  if (req.roles) {
    if (req.roles.length === 0) throw badParameter("a user needs at least one role");
    await requireRolesExist(ctx, req.roles);
  }
  const next = validateResource({
    ...current,
    metadata: { ...current.metadata, revision: undefined },
    spec: { roles: req.roles ?? current.spec.roles, traits: req.traits ?? current.spec.traits },
  }) as UserResource;
  const saved = (await ctx.stores.users.swap(next, current.metadata.revision ?? 0)) as UserResource;
  await ctx.audit.emit({ event: "user.update", user: req.actor, name: req.name, roles: saved.spec.roles });
  return saved;
}

export async function deleteUser(ctx: AuthContext, name: string, actor: string): Promise<void> {
  await ctx.stores.users.delete(name);
  await revokeUserTokens(ctx, name);
  await ctx.stores.secrets.delete(name);
  await ctx.audit.emit({ event: "user.delete", user: actor, name });
}

/** A fresh one-time link; a reset also clears the password and second factor. */
export async function resetUser(ctx: AuthContext, name: string, actor: string): Promise<Invite> {
  await ctx.stores.users.get(name);
  await ctx.stores.secrets.put(name, { login: { failures: [] } });
  const invite = await createUserToken(ctx, name, "reset");
  await ctx.audit.emit({ event: "user.update", user: actor, name, reset: true });
  return invite;
}

/** Only the newest link works: older ones for the same user are revoked when a new one is made. */
async function revokeUserTokens(ctx: AuthContext, user: string): Promise<void> {
  for (const t of await ctx.stores.userTokens.list()) {
    if (t.value.user === user) await ctx.stores.userTokens.delete(t.name);
  }
}

async function createUserToken(ctx: AuthContext, user: string, kind: UserToken["kind"]): Promise<Invite> {
  await revokeUserTokens(ctx, user);
  const token = randomBytes(24).toString("hex");
  const now = ctx.clock.now();
  const expires = new Date(now.getTime() + ctx.config.inviteTtlMs);
  const totp = await newTotpEnrollment(ctx.config.clusterName, `${user}@${ctx.config.clusterName}`);
  await ctx.stores.userTokens.create(
    token,
    {
      user,
      kind,
      created: now.toISOString(),
      expires: expires.toISOString(),
      totpSecret: totp.secret,
      totpUrl: totp.url,
      totpQrSvg: totp.qrSvg,
    },
    expires,
  );
  return { token, url: `https://${ctx.config.publicProxyAddr}/web/invite/${token}`, expires };
}

const INVITE_GONE = "this invitation has expired or was already used; ask an administrator for a new one";

export async function getUserToken(ctx: AuthContext, token: string): Promise<UserToken> {
  if (!/^[0-9a-f]{48}$/.test(token)) throw notFound(INVITE_GONE);
  const rec = await ctx.stores.userTokens.get(token);
  if (!rec || new Date(rec.value.expires) <= ctx.clock.now()) throw notFound(INVITE_GONE);
  return rec.value;
}

export function needsOtp(ctx: AuthContext): boolean {
  return ctx.config.secondFactor === "otp" || ctx.config.secondFactor === "on";
}

export const WEBAUTHN_UNSUPPORTED =
  "this cluster requires a WebAuthn security key (second_factor: webauthn), which this version cannot enroll or check yet; set second_factor to otp or on";

/** Fails closed: a second factor we cannot check must never turn into no second factor. */
export function requireSupportedSecondFactor(ctx: AuthContext): void {
  if (ctx.config.secondFactor === "webauthn") throw accessDenied(WEBAUTHN_UNSUPPORTED);
}

/** Sets the password (and TOTP device) and burns the token, atomically with respect to reuse. */
export async function completeInvite(ctx: AuthContext, req: { token: string; password: string; totpCode: string }): Promise<string> {
  const t = await getUserToken(ctx, req.token);
  requireSupportedSecondFactor(ctx);
  checkPasswordStrength(req.password);
  let step: number | undefined;
  if (needsOtp(ctx)) {
    step = verifyTotp(t.totpSecret, req.totpCode.trim(), ctx.clock);
    if (step === undefined) {
      throw accessDenied("the one-time code is not valid; check your authenticator app's clock and try the current code");
    }
  }
  // Deleting is the single-use gate: of two concurrent completions only one deletes.
  if (!(await ctx.stores.userTokens.delete(req.token))) throw notFound(INVITE_GONE);
  const secrets: UserSecrets = { passwordHash: await hashPassword(req.password), login: { failures: [] } };
  if (step !== undefined) {
    secrets.totpSecret = t.totpSecret;
    secrets.lastTotpStep = step;
  }
  try {
    await ctx.stores.users.get(t.user);
  } catch (e) {
    if (isJumpgateError(e, "not-found")) throw notFound(INVITE_GONE);
    throw e;
  }
  await ctx.stores.secrets.put(t.user, secrets);
  await ctx.audit.emit({ event: "user.password_change", user: t.user, invite: t.kind });
  return t.user;
}

/**
 * A user as readers see it: `spec.status` is Auth's to fill (from the user's
 * secrets), never what a writer stored. `is_locked`/`lock_expires` are the
 * login lockout (Teleport's names); `invite_pending` is true until the user has
 * set a password through his invitation.
 */
export async function withStatus(ctx: AuthContext, user: StoredResource): Promise<StoredResource> {
  const secrets = (await ctx.stores.secrets.get(user.metadata.name))?.value;
  const lockedUntil = secrets?.login.lockedUntil;
  const locked = lockedUntil !== undefined && lockedUntil > ctx.clock.now().getTime();
  const status = {
    is_locked: locked,
    ...(locked ? { lock_expires: new Date(lockedUntil).toISOString() } : {}),
    invite_pending: secrets !== undefined && secrets.passwordHash === undefined,
  };
  return { ...user, spec: { ...(user.spec as Record<string, unknown>), status } };
}
