import assert from "node:assert/strict";
import { test } from "node:test";
import { redact, secretFingerprint, secretKeyKind } from "./redact.ts";

test("secret-looking names are dropped or fingerprinted, others kept", () => {
  const table: [string, ReturnType<typeof secretKeyKind>][] = [
    ["password", "drop"],
    ["newPassword", "drop"],
    ["password_hash", "drop"],
    ["otp", "drop"],
    ["otp_code", "drop"],
    ["totp", "drop"],
    ["client_secret", "drop"],
    ["private_key", "drop"],
    ["privateKey", "drop"],
    ["Authorization", "drop"],
    ["set-cookie", "drop"],
    ["recovery_codes", "drop"],
    ["api_key", "drop"],
    ["token", "fingerprint"],
    ["join_token", "fingerprint"],
    ["accessToken", "fingerprint"],
    ["tokens", "fingerprint"],
    ["token_name", "fingerprint"],
    ["token_roles", undefined],
    ["token_ttl", undefined],
    ["user", undefined],
    ["login", undefined],
    ["public_key", undefined],
    ["query", undefined],
    ["otpauth_enabled", undefined],
  ];
  for (const [key, kind] of table) assert.equal(secretKeyKind(key), kind, key);
});

test("redact walks nested objects and arrays without touching the input", () => {
  const input = {
    user: "alice",
    token: "s3cr3t-token",
    tokens: ["a1", "b2"],
    nested: { list: [{ password: "x", keep: 1 }], authorization: "Bearer abc", password_set: true },
    empty: undefined,
  };
  const out = redact(input);
  assert.deepEqual(out, {
    user: "alice",
    token: secretFingerprint("s3cr3t-token"),
    tokens: [secretFingerprint("a1"), secretFingerprint("b2")],
    nested: { list: [{ keep: 1 }], password_set: true },
  });
  assert.equal(input.nested.list[0]?.password, "x");
  assert.match(secretFingerprint("x"), /^sha256:[0-9a-f]{16}$/);
});

test("cycles and deep nesting do not hang or throw", () => {
  const a: Record<string, unknown> = { name: "a" };
  a.self = a;
  let deep: Record<string, unknown> = { leaf: true };
  for (let i = 0; i < 50; i++) deep = { d: deep };
  const out = redact({ a, deep });
  assert.equal((out.a as Record<string, unknown>).self, "[circular]");
  assert.match(JSON.stringify(out), /\[truncated\]/);
});
