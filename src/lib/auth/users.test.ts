import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { generateKeySet } from "../crypto/index.ts";
import { authenticateUser } from "./login.ts";
import { getResource, listResources, upsertResource } from "./resources.ts";
import { authFixture } from "./testing/fixture.ts";
import { createUser } from "./users.ts";

type Status = { is_locked?: boolean; lock_expires?: string; invite_pending?: boolean };
const statusOf = (r: { spec?: unknown }) => (r.spec as { status?: Status } | undefined)?.status;

describe("user status on reads", () => {
  let f: Awaited<ReturnType<typeof authFixture>>;
  before(async () => {
    f = await authFixture({ secondFactor: "off" });
    await f.addUser("alice", ["access"], { logins: ["alice"] });
    await createUser(f.ctx, { name: "bob", roles: ["access"], traits: {}, actor: "admin" });
  });
  after(() => f.close());

  it("shows a pending invite until the user sets a password, and who created the user", async () => {
    assert.deepEqual(statusOf(await getResource(f.ctx, "user", "bob")), { is_locked: false, invite_pending: true });
    assert.deepEqual(statusOf(await getResource(f.ctx, "user", "alice")), { is_locked: false, invite_pending: false });
    const bob = await getResource(f.ctx, "user", "bob");
    assert.deepEqual((bob.spec as { created_by?: unknown }).created_by, { time: f.clock.now().toISOString(), user: { name: "admin" } });
  });

  it("shows the login lockout and its end, and drops it once it is over", async () => {
    const keys = generateKeySet();
    for (let i = 0; i < 5; i++) {
      await authenticateUser(f.ctx, {
        user: "alice",
        password: "wrong password!",
        otp: "",
        sshPublicKey: keys.sshPublicKey,
        tlsPublicKey: keys.tlsPublicKey,
      }).catch(() => undefined);
    }
    const locked = (await listResources(f.ctx, "user")).find((u) => u.metadata.name === "alice");
    assert.equal(statusOf(locked ?? { spec: {} })?.is_locked, true);
    assert.equal(statusOf(locked ?? { spec: {} })?.lock_expires, new Date(f.clock.now().getTime() + 20 * 60_000).toISOString());
    f.clock.advance(21 * 60_000);
    assert.equal(statusOf(await getResource(f.ctx, "user", "alice"))?.is_locked, false);
  });

  it("ignores a status a writer tries to store", async () => {
    const bob = await getResource(f.ctx, "user", "bob");
    await upsertResource(f.ctx, { ...bob, spec: { ...(bob.spec as object), status: { is_locked: true, invite_pending: false } } }, true, "admin");
    assert.deepEqual(statusOf(await getResource(f.ctx, "user", "bob")), { is_locked: false, invite_pending: true });
  });
});
