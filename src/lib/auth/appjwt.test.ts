import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { verifyAppToken } from "../crypto/index.ts";
import { jwtCaJwks, signAppJwt } from "./appjwt.ts";
import { authFixture } from "./testing/fixture.ts";

describe("app tokens from the jwt CA", () => {
  let f: Awaited<ReturnType<typeof authFixture>>;
  before(async () => {
    f = await authFixture();
  });
  after(() => f?.close());

  test("the jwt CA is ECDSA P-256: ES256 tokens that verify against its JWKS, issued by the cluster", async () => {
    const jwks = jwtCaJwks(f.ctx);
    assert.equal(jwks.keys.length, 1);
    assert.equal(jwks.keys[0]?.alg, "ES256");
    const token = await signAppJwt(f.ctx, { username: "alice", roles: ["access"], traits: { logins: ["alice"] }, audience: "http://127.0.0.1:3000" });
    const c = await verifyAppToken(token, jwks, { audience: "http://127.0.0.1:3000", issuer: "unit.test", clock: f.clock });
    assert.equal(c.username, "alice");
    assert.ok(c.exp - c.iat <= 300);
  });

  test("a longer lifetime than 5 minutes is capped", async () => {
    const token = await signAppJwt(f.ctx, { username: "bob", roles: [], traits: {}, audience: "https://app", ttlMs: 3600_000 });
    const c = await verifyAppToken(token, jwtCaJwks(f.ctx), { audience: "https://app", issuer: "unit.test", clock: f.clock });
    assert.equal(c.exp - c.iat, 300);
  });
});
