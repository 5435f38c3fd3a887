/**
 * Login lockout: after `maxAttempts` failures inside `windowMs`, the user is
 * refused until `lockedUntil`, whatever password he tries. Pure, so the rule is
 * tested without a backend.
 */
export interface LockoutPolicy {
  maxAttempts: number;
  lockoutMs: number;
}

export interface LoginState {
  failures: number[];
  lockedUntil?: number;
}

export function isLocked(state: LoginState, now: number): boolean {
  return state.lockedUntil !== undefined && state.lockedUntil > now;
}

/** Records a failure; returns the new state and whether this failure locked the user. */
export function recordFailure(state: LoginState, now: number, p: LockoutPolicy): { state: LoginState; locked: boolean } {
  const failures = [...state.failures.filter((t) => now - t < p.lockoutMs), now];
  if (failures.length >= p.maxAttempts) {
    return { state: { failures: [], lockedUntil: now + p.lockoutMs }, locked: true };
  }
  const next: LoginState = { failures };
  if (state.lockedUntil !== undefined && state.lockedUntil > now) next.lockedUntil = state.lockedUntil;
  return { state: next, locked: false };
}

export function recordSuccess(): LoginState {
  return { failures: [] };
}
