import { accessDenied, isJumpgateError } from "../../api/errors.ts";
import { lockMessage } from "../../api/resources/index.ts";
import { type IssuedCerts, issueUserCerts, type PublicKeys } from "./certs.ts";
import type { AuthContext } from "./context.ts";
import { isLocked, recordFailure, recordSuccess } from "./lockout.ts";
import { activeLock } from "./locks.ts";
import { dummyHash, verifyPassword } from "./password.ts";
import type { UserSecrets } from "./secrets.ts";
import { verifyTotp } from "./totp.ts";
import { needsOtp, type UserResource, WEBAUTHN_UNSUPPORTED } from "./users.ts";

export interface LoginRequest extends PublicKeys {
  user: string;
  password: string;
  otp: string;
  ttlMs?: number;
  clientAddr?: string;
}

const BAD_CREDENTIALS = "invalid username, password or second factor";

/**
 * Password + second factor login. The user sees one generic line for bad
 * credentials (so names cannot be probed); the audit event carries the reason.
 */
export async function authenticateUser(ctx: AuthContext, req: LoginRequest): Promise<IssuedCerts> {
  const fail = async (reason: string, message = BAD_CREDENTIALS): Promise<never> => {
    await ctx.audit.emit({
      event: "user.login",
      success: false,
      user: req.user,
      method: "local",
      error: reason,
      addr_remote: req.clientAddr,
    });
    throw accessDenied(message, reason);
  };

  const user = await ctx.stores.users.find(req.user).catch((e: unknown) => {
    if (isJumpgateError(e, "bad-parameter")) return undefined;
    throw e;
  });
  const rec = user ? await ctx.stores.secrets.get(req.user) : undefined;
  if (!user || !rec?.value.passwordHash) {
    await verifyPassword(await dummyHash(), req.password);
    return fail(user ? "user has not set a password yet" : "user not found");
  }
  const secrets = rec.value;
  const now = ctx.clock.now().getTime();
  const lock = await activeLock(ctx, { user: req.user, roles: (user as UserResource).spec.roles });
  if (lock) return fail("user is locked", lockMessage(lock));
  if (isLocked(secrets.login, now)) {
    const until = new Date(secrets.login.lockedUntil ?? now).toISOString();
    return fail("user is locked out", `user ${req.user} is temporarily locked after too many failed login attempts; try again after ${until}`);
  }

  if (ctx.config.secondFactor === "webauthn") return fail("webauthn is not supported", WEBAUTHN_UNSUPPORTED);
  let problem: string | undefined;
  let step: number | undefined;
  if (!(await verifyPassword(secrets.passwordHash ?? "", req.password))) {
    problem = "invalid password";
  } else if (needsOtp(ctx)) {
    if (!secrets.totpSecret) {
      problem = "no second factor device enrolled";
    } else if (!req.otp) {
      problem = "missing one-time code";
    } else {
      step = verifyTotp(secrets.totpSecret, req.otp.trim(), ctx.clock);
      if (step === undefined) problem = "invalid one-time code";
      else if (secrets.lastTotpStep !== undefined && step <= secrets.lastTotpStep) {
        problem = "one-time code already used";
      }
    }
  }

  if (problem) {
    const r = recordFailure(secrets.login, now, ctx.config.lockout);
    const saved = await saveSecrets(ctx, req.user, rec.revision, { ...secrets, login: r.state });
    if (r.locked && saved) {
      await ctx.audit.emit({
        event: "user.locked",
        user: req.user,
        locked_until: new Date(r.state.lockedUntil ?? now).toISOString(),
        reason: `${ctx.config.lockout.maxAttempts} failed login attempts`,
      });
    }
    const message = problem === "one-time code already used" ? "this one-time code was already used; wait for the next code and try again" : BAD_CREDENTIALS;
    return fail(problem, message);
  }

  const next: UserSecrets = { ...secrets, login: recordSuccess() };
  if (step !== undefined) next.lastTotpStep = step;
  // The swap makes a code single-use even when two logins race with it.
  if (!(await saveSecrets(ctx, req.user, rec.revision, next))) {
    return fail("concurrent login with the same code", "this one-time code was already used; wait for the next code");
  }
  const certs = await issueUserCerts(ctx, user as UserResource, req, req.ttlMs, { mfaVerified: step !== undefined });
  await ctx.audit.emit({
    event: "user.login",
    success: true,
    user: req.user,
    method: "local",
    addr_remote: req.clientAddr,
  });
  return certs;
}

async function saveSecrets(ctx: AuthContext, user: string, revision: number, s: UserSecrets): Promise<boolean> {
  try {
    await ctx.stores.secrets.swap(user, revision, s);
    return true;
  } catch (e) {
    if (isJumpgateError(e, "compare-failed")) return false;
    throw e;
  }
}
