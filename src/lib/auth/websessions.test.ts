import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isJumpgateError } from "../../api/errors.ts";
import { decodeIdentity } from "../crypto/index.ts";
import { authFixture, PASSWORD } from "./testing/fixture.ts";
import { totpCode } from "./totp.ts";
import { validateResource } from "./validate.ts";
import { authenticateWebSession, createWebSession, deleteWebSession, SESSION_EXPIRED } from "./websessions.ts";

type Fixture = Awaited<ReturnType<typeof authFixture>>;

const unauthenticated = async (p: Promise<unknown>, re: RegExp) => {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isJumpgateError(e, "unauthenticated"), String(e));
    assert.match(e.message, re);
    return true;
  });
};

async function signIn(f: Fixture, user: string, secret: string, idleTimeoutMs?: number) {
  // Each TOTP step is accepted once: move to the next one.
  f.clock.advance(30_000);
  return createWebSession(f.ctx, {
    user,
    password: PASSWORD,
    otp: totpCode(secret, f.clock.now()),
    clientAddr: "192.0.2.1:5000",
    ...(idleTimeoutMs ? { idleTimeoutMs } : {}),
  });
}

describe("web sessions", () => {
  test("sign-in returns a cookie Auth stores only as a hash, with certificates and the UI acl", async () => {
    const f = await authFixture();
    await f.ctx.stores.roles.create(
      validateResource({
        kind: "role",
        version: "v7",
        metadata: { name: "watcher" },
        spec: { allow: { rules: [{ resources: ["session_tracker"], verbs: ["list", "read"] }] }, deny: {} },
      }),
    );
    const secret = await f.addUser("alice", ["access", "auditor", "watcher"], { logins: ["alice"] });
    const s = await signIn(f, "alice", secret);
    assert.ok(s.cookie && s.cookie.length >= 40);
    const raw = JSON.stringify(await f.backend.getRange({ prefix: "/web_sessions/" }));
    assert.ok(!raw.includes(s.cookie), "the cookie itself is not stored");
    assert.equal(decodeIdentity(s.tlsCert).username, "alice");
    assert.equal(s.expires.getTime(), f.clock.now().getTime() + 12 * 3600_000);
    assert.equal(s.idleTimeoutMs, 30 * 60_000);
    assert.deepEqual(s.logins, ["alice"]);
    assert.deepEqual(s.acl, { users: false, roles: false, tokens: false, audit: true, recordings: true, sessions: true });
    const again = await authenticateWebSession(f.ctx, s.cookie);
    assert.equal(again.id, s.id);
    assert.equal(again.csrfToken, s.csrfToken);
    assert.equal(again.cookie, undefined);
    await unauthenticated(authenticateWebSession(f.ctx, `${s.cookie}x`), /expired/);
    const logins = await f.auditEvents("user.login");
    assert.deepEqual(
      logins.map((e) => e.success),
      [true],
    );
    await f.close();
  });

  test("wrong password goes through the login path: generic message, audited, counts toward lockout", async () => {
    const f = await authFixture({ lockout: { maxAttempts: 2, lockoutMs: 60_000 } });
    await f.addUser("bob", ["access"]);
    const bad = () => createWebSession(f.ctx, { user: "bob", password: "nope", otp: "000000", clientAddr: "x" });
    await assert.rejects(bad(), /invalid username, password or second factor/);
    await assert.rejects(bad(), /invalid username/);
    await assert.rejects(bad(), /temporarily locked/);
    assert.equal((await f.auditEvents("user.login")).length, 3);
    await f.close();
  });

  test("idle expiry: renewed by use at most once a minute, ends after 30 idle minutes", async () => {
    const f = await authFixture();
    const secret = await f.addUser("carol", ["access"]);
    const s = await signIn(f, "carol", secret);
    const cookie = s.cookie ?? "";
    const revision = async () => (await f.backend.getRange({ prefix: "/web_sessions/" }))[0]?.revision;
    const r0 = await revision();
    f.clock.advance(30_000);
    await authenticateWebSession(f.ctx, cookie);
    assert.equal(await revision(), r0, "no write within the first minute");
    f.clock.advance(29 * 60_000);
    const renewed = await authenticateWebSession(f.ctx, cookie);
    assert.notEqual(await revision(), r0, "renewed");
    assert.equal(renewed.idleExpires.getTime(), f.clock.now().getTime() + 30 * 60_000);
    f.clock.advance(29 * 60_000);
    await authenticateWebSession(f.ctx, cookie);
    f.clock.advance(30 * 60_000 + 1);
    await unauthenticated(authenticateWebSession(f.ctx, cookie), new RegExp(SESSION_EXPIRED));
    await f.close();
  });

  test("absolute expiry: 12 h at most, capped by max_session_ttl, whatever the activity", async () => {
    const f = await authFixture();
    await f.ctx.stores.roles.create(
      validateResource({ kind: "role", version: "v7", metadata: { name: "short" }, spec: { options: { max_session_ttl: "2h" }, allow: {}, deny: {} } }),
    );
    const secret = await f.addUser("dan", ["access", "short"]);
    const s = await signIn(f, "dan", secret);
    assert.equal(s.expires.getTime() - f.clock.now().getTime(), 2 * 3600_000);
    for (let i = 0; i < 7; i++) {
      f.clock.advance(15 * 60_000);
      await authenticateWebSession(f.ctx, s.cookie ?? "");
    }
    f.clock.advance(15 * 60_000);
    await unauthenticated(authenticateWebSession(f.ctx, s.cookie ?? ""), /expired/);
    await f.close();
  });

  test("a short idle timeout from the proxy is honoured", async () => {
    const f = await authFixture();
    const secret = await f.addUser("erin", ["access"]);
    const s = await signIn(f, "erin", secret, 5_000);
    assert.equal(s.idleTimeoutMs, 5_000);
    f.clock.advance(4_000);
    await authenticateWebSession(f.ctx, s.cookie ?? "");
    f.clock.advance(4_000);
    await authenticateWebSession(f.ctx, s.cookie ?? "");
    f.clock.advance(5_001);
    await unauthenticated(authenticateWebSession(f.ctx, s.cookie ?? ""), /expired/);
    await f.close();
  });

  test("a lock ends the session at the next request, and so does deleting the user", async () => {
    const f = await authFixture();
    const s1 = await signIn(f, "fay", await f.addUser("fay", ["access"]));
    const s2 = await signIn(f, "gus", await f.addUser("gus", ["access"]));
    await f.ctx.stores.locks.create(
      validateResource({ kind: "lock", version: "v2", metadata: { name: "l1" }, spec: { target: { user: "fay" }, message: "incident" } }),
    );
    await unauthenticated(authenticateWebSession(f.ctx, s1.cookie ?? ""), /ended: user fay is locked: incident/);
    await f.ctx.stores.locks.delete("l1");
    await unauthenticated(authenticateWebSession(f.ctx, s1.cookie ?? ""), /expired/);
    await f.ctx.stores.users.delete("gus");
    await unauthenticated(authenticateWebSession(f.ctx, s2.cookie ?? ""), /user gus no longer exists/);
    await f.close();
  });

  test("sign-out deletes the session and writes user.logout", async () => {
    const f = await authFixture();
    const s = await signIn(f, "hal", await f.addUser("hal", ["access"]));
    await deleteWebSession(f.ctx, s.cookie ?? "", "192.0.2.1:5000");
    await unauthenticated(authenticateWebSession(f.ctx, s.cookie ?? ""), /expired/);
    const out = await f.auditEvents("user.logout");
    assert.equal(out.length, 1);
    assert.equal(out[0]?.user, "hal");
    await deleteWebSession(f.ctx, s.cookie ?? "", "192.0.2.1:5000");
    assert.equal((await f.auditEvents("user.logout")).length, 1, "a second sign-out is a no-op");
    await f.close();
  });
});
