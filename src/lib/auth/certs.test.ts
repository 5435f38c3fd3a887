import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { generateKeySet } from "../crypto/index.ts";
import { checkerFor, issueUserCerts } from "./certs.ts";
import { deleteResource, upsertResource } from "./resources.ts";
import { authFixture } from "./testing/fixture.ts";
import type { UserResource } from "./users.ts";

const role = (name: string, logins: string[]) => ({ kind: "role", version: "v7", metadata: { name }, spec: { allow: { logins } } });

describe("compiled role checkers", () => {
  let f: Awaited<ReturnType<typeof authFixture>>;
  let other: Awaited<ReturnType<typeof authFixture>>;
  before(async () => {
    f = await authFixture({ secondFactor: "off" });
    other = await authFixture({ secondFactor: "off" });
    for (const x of [f, other]) {
      await upsertResource(x.ctx, role("ops", ["ops"]), false, "test");
      await upsertResource(x.ctx, role("dev", ["{{internal.logins}}"]), false, "test");
      await x.addUser("carol", ["ops", "dev"], { logins: ["carol"] });
    }
  });
  after(async () => {
    await f.close();
    await other.close();
  });

  const carol = async (x = f) => (await x.ctx.stores.users.get("carol")) as UserResource;
  const logins = async (x = f) => (await issueUserCerts(x.ctx, await carol(x), generateKeySet(), undefined)).logins;

  it("reuses the compiled checker while the roles and traits stay the same", async () => {
    const a = await checkerFor(f.ctx, await carol());
    const b = await checkerFor(f.ctx, await carol());
    assert.equal(a, b);
    assert.deepEqual(a.sshLogins(), ["carol", "ops"]);
    // The same names at the same revisions in another cluster are other roles.
    assert.notEqual(await checkerFor(other.ctx, await carol(other)), a);
  });

  it("an edited role takes effect on the next issuance", async () => {
    assert.deepEqual(await logins(), ["carol", "ops"]);
    await upsertResource(f.ctx, role("ops", ["ops", "root"]), true, "test");
    assert.deepEqual(await logins(), ["carol", "ops", "root"]);
  });

  it("a deleted role takes effect on the next issuance, and so does a recreated one", async () => {
    await deleteResource(f.ctx, "role", "ops", "test");
    assert.deepEqual(await logins(), ["carol"]);
    await upsertResource(f.ctx, role("ops", ["ops"]), false, "test");
    assert.deepEqual(await logins(), ["carol", "ops"]);
  });

  it("changed traits take effect, and a caller changing its traits object changes no cached checker", async () => {
    const user = await carol();
    const before = await checkerFor(f.ctx, user);
    user.spec.traits.logins = ["mallory"];
    const after = await checkerFor(f.ctx, user);
    assert.notEqual(after, before);
    assert.deepEqual(after.sshLogins(), ["mallory", "ops"]);
    assert.deepEqual(before.sshLogins(), ["carol", "ops"]);
    assert.deepEqual((await checkerFor(f.ctx, await carol())).sshLogins(), ["carol", "ops"]);
  });
});
