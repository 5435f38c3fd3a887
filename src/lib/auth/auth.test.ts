import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isJumpgateError } from "../../api/errors.ts";
import { decodeIdentity, parseCertificate } from "../crypto/index.ts";
import { freshKeys } from "../service/identity.ts";
import { issueUserCerts } from "./certs.ts";
import { createToken, registerUsingToken } from "./join.ts";
import { authenticateUser } from "./login.ts";
import { authFixture, PASSWORD } from "./testing/fixture.ts";
import { totpCode } from "./totp.ts";
import { createUser, getUserToken, type UserResource } from "./users.ts";
import { validateResource } from "./validate.ts";

const rejects = async (p: Promise<unknown>, kind: string, re: RegExp) => {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isJumpgateError(e), String(e));
    assert.equal(e.kind, kind);
    assert.match(e.message, re);
    return true;
  });
};

function loginReq(user: string, otp: string, password = PASSWORD) {
  const k = freshKeys();
  return { user, password, otp, sshPublicKey: k.sshPublicKey, tlsPublicKey: k.tlsPublicKey };
}

describe("Auth Service", () => {
  test("first start creates the presets, the CAs and the cluster name", async () => {
    const f = await authFixture();
    const roles = (await f.ctx.stores.roles.list()).map((r) => r.metadata.name).sort();
    assert.deepEqual(roles, ["access", "auditor", "editor"]);
    for (const t of ["user", "host", "db", "jwt"] as const) assert.ok(f.ctx.authorities.get(t));
    assert.equal(f.server.clusterName, "unit.test");
    await f.close();
  });

  test("an invite expires after its TTL and cannot be used twice", async () => {
    const f = await authFixture();
    const { invite } = await createUser(f.ctx, { name: "bob", roles: ["access"], traits: {}, actor: "t" });
    assert.ok(await getUserToken(f.ctx, invite.token));
    f.clock.advance(3600_000 + 1);
    await rejects(getUserToken(f.ctx, invite.token), "not-found", /expired or was already used/);
    await f.close();
  });

  test("login needs the password and a fresh TOTP code; a code is accepted once", async () => {
    const f = await authFixture();
    const secret = await f.addUser("carol", ["access"], { logins: ["carol"] });
    // The invite consumed the current step: the same step's code is a reuse.
    await rejects(authenticateUser(f.ctx, loginReq("carol", totpCode(secret, f.clock.now()))), "access-denied", /already used/);
    f.clock.advance(30_000);
    const code = totpCode(secret, f.clock.now());
    const certs = await authenticateUser(f.ctx, loginReq("carol", code));
    assert.deepEqual(certs.logins, ["carol"]);
    await rejects(authenticateUser(f.ctx, loginReq("carol", code)), "access-denied", /already used/);
    await rejects(authenticateUser(f.ctx, loginReq("carol", "", PASSWORD)), "access-denied", /invalid username/);
    await rejects(authenticateUser(f.ctx, loginReq("nobody", code)), "access-denied", /invalid username/);
    const events = await f.auditEvents("user.login");
    assert.deepEqual(
      events.map((e) => [e.success, e.error ?? null]),
      [
        [false, "one-time code already used"],
        [true, null],
        [false, "one-time code already used"],
        [false, "missing one-time code"],
        [false, "user not found"],
      ],
    );
    await f.close();
  });

  test("second_factor off logs in with the password alone; webauthn fails closed", async () => {
    const off = await authFixture({ secondFactor: "off" });
    await off.addUser("dan", ["access"]);
    assert.ok(await authenticateUser(off.ctx, loginReq("dan", "")));
    await off.close();
    const wa = await authFixture({ secondFactor: "otp" });
    await wa.addUser("erin", ["access"]);
    wa.ctx.config.secondFactor = "webauthn";
    await rejects(authenticateUser(wa.ctx, loginReq("erin", "")), "access-denied", /WebAuthn/);
    await wa.close();
  });

  test("lockout after the configured number of failures, for the configured time", async () => {
    const f = await authFixture({ lockout: { maxAttempts: 3, lockoutMs: 60_000 } });
    const secret = await f.addUser("frank", ["access"]);
    for (let i = 0; i < 3; i++) {
      f.clock.advance(1000);
      await rejects(authenticateUser(f.ctx, loginReq("frank", "000000", "bad password 1")), "access-denied", /invalid/);
    }
    f.clock.advance(30_000);
    await rejects(authenticateUser(f.ctx, loginReq("frank", totpCode(secret, f.clock.now()))), "access-denied", /temporarily locked/);
    assert.equal((await f.auditEvents("user.locked")).length, 1);
    f.clock.advance(60_000);
    assert.ok(await authenticateUser(f.ctx, loginReq("frank", totpCode(secret, f.clock.now()))));
    await f.close();
  });

  test("certificate TTL is capped by the roles' max_session_ttl; a deleted role grants nothing", async () => {
    const f = await authFixture();
    await f.ctx.stores.roles.create(
      validateResource({
        kind: "role",
        version: "v7",
        metadata: { name: "short" },
        spec: { options: { max_session_ttl: "1h0m0s" }, allow: { logins: ["ops"] }, deny: {} },
      }),
    );
    await f.addUser("gina", ["access", "short"], { logins: ["gina"] });
    const user = (await f.ctx.stores.users.get("gina")) as UserResource;
    const k = freshKeys();
    const certs = await issueUserCerts(f.ctx, user, k, 12 * 3600_000);
    const ssh = parseCertificate(certs.sshCert);
    const ttl = ssh.validBefore.getTime() - f.clock.now().getTime();
    assert.equal(ttl, 3600_000);
    assert.deepEqual([...ssh.principals].sort(), ["gina", "ops"]);
    const id = decodeIdentity(certs.tlsCert);
    assert.deepEqual(id.roles, ["access", "short"]);
    assert.equal(id.expires.getTime(), f.clock.now().getTime() + 3600_000);
    await f.ctx.stores.roles.delete("short");
    const after = await issueUserCerts(f.ctx, user, k, undefined);
    assert.deepEqual(parseCertificate(after.sshCert).principals, ["gina"]);
    await f.close();
  });

  test("join tokens: role must match, TTL expires, single-use tokens work once, static tokens work", async () => {
    const f = await authFixture({ staticTokens: [{ token: "static-secret-token", roles: ["node"] }] });
    const k = freshKeys();
    const req = (token: string, role = "node") => ({
      token,
      hostId: "0b3c0e8e-0000-4000-8000-000000000001",
      nodeName: "web-1",
      role,
      principals: [],
      dnsNames: [],
      ...k,
    });
    const t = await createToken(f.ctx, { roles: ["node"], ttlMs: 60_000, actor: "t" });
    const certs = await registerUsingToken(f.ctx, req(t.metadata.name));
    assert.equal(decodeIdentity(certs.tlsCert).systemRoles[0], "node");
    await rejects(registerUsingToken(f.ctx, req(t.metadata.name, "proxy")), "access-denied", /does not allow the "proxy" role/);
    f.clock.advance(61_000);
    await rejects(registerUsingToken(f.ctx, req(t.metadata.name)), "access-denied", /invalid or has expired/);
    const once = await createToken(f.ctx, { roles: ["node"], singleUse: true, actor: "t" });
    await registerUsingToken(f.ctx, req(once.metadata.name));
    await rejects(registerUsingToken(f.ctx, req(once.metadata.name)), "access-denied", /invalid or has expired/);
    assert.ok(await registerUsingToken(f.ctx, req("static-secret-token")));
    await rejects(registerUsingToken(f.ctx, req("static-secret-tokem")), "access-denied", /invalid/);
    const joins = await f.auditEvents("join");
    assert.equal(joins.filter((e) => e.success === true).length, 3);
    assert.ok(
      joins.every((e) => !JSON.stringify(e).includes(once.metadata.name)),
      "token secrets must not be audited",
    );
    await f.close();
  });
});
