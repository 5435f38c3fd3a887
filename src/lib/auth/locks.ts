import { accessDenied } from "../../api/errors.ts";
import { findLock, type Lock, lockMessage } from "../../api/resources/index.ts";
import type { AuthContext } from "./context.ts";

/** Locks in force for this user, his roles or this node; a lock takes effect at once (DESIGN §2). */
export async function activeLock(ctx: AuthContext, who: { user?: string; roles?: readonly string[]; node?: string }): Promise<Lock | undefined> {
  const locks = (await ctx.stores.locks.list()) as unknown as Lock[];
  return findLock(locks, who, ctx.clock.now());
}

export async function requireNotLocked(ctx: AuthContext, who: { user?: string; roles?: readonly string[]; node?: string }): Promise<void> {
  const l = await activeLock(ctx, who);
  if (l) throw accessDenied(lockMessage(l));
}
