import assert from "node:assert/strict";
import { test } from "node:test";
import { FakeClock } from "../../api/clock.ts";
import { newTotpEnrollment, totpCode, verifyTotp } from "./totp.ts";

test("a code from the enrolled secret verifies and yields its time step", async () => {
  const clock = new FakeClock(new Date("2026-05-01T10:00:00Z"));
  const e = await newTotpEnrollment("jumpgate", "alice");
  assert.match(e.url, /^otpauth:\/\/totp\//);
  assert.match(e.qrSvg, /<svg/);
  const code = totpCode(e.secret, clock.now());
  const step = verifyTotp(e.secret, code, clock);
  assert.equal(step, Math.floor(clock.now().getTime() / 30000));
});

test("codes from the neighbouring step pass, older ones and garbage fail", async () => {
  const clock = new FakeClock(new Date("2026-05-01T10:00:00Z"));
  const { secret } = await newTotpEnrollment("jumpgate", "bob");
  const prev = totpCode(secret, new Date(clock.now().getTime() - 30_000));
  assert.notEqual(verifyTotp(secret, prev, clock), undefined);
  const old = totpCode(secret, new Date(clock.now().getTime() - 120_000));
  assert.equal(verifyTotp(secret, old, clock), undefined);
  assert.equal(verifyTotp(secret, "12345", clock), undefined);
  assert.equal(verifyTotp(secret, "abcdef", clock), undefined);
});
