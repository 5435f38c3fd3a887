import assert from "node:assert/strict";
import { test } from "node:test";
import { isLocked, type LoginState, recordFailure, recordSuccess } from "./lockout.ts";

const policy = { maxAttempts: 5, lockoutMs: 20 * 60_000 };

test("the fifth failure within the window locks for the lockout duration", () => {
  let s: LoginState = { failures: [] };
  const t0 = 1_000_000;
  for (let i = 0; i < 4; i++) {
    const r = recordFailure(s, t0 + i * 1000, policy);
    assert.equal(r.locked, false);
    s = r.state;
  }
  const r = recordFailure(s, t0 + 5000, policy);
  assert.equal(r.locked, true);
  assert.equal(isLocked(r.state, t0 + 5000 + policy.lockoutMs - 1), true);
  assert.equal(isLocked(r.state, t0 + 5000 + policy.lockoutMs), false);
});

test("old failures fall out of the window and success clears them", () => {
  let s: LoginState = { failures: [] };
  for (let i = 0; i < 4; i++) s = recordFailure(s, i, policy).state;
  const later = recordFailure(s, policy.lockoutMs + 10, policy);
  assert.equal(later.locked, false);
  assert.equal(later.state.failures.length, 1);
  assert.deepEqual(recordSuccess(), { failures: [] });
});
