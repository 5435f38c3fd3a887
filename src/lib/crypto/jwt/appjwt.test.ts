import assert from "node:assert/strict";
import { createPublicKey } from "node:crypto";
import { describe, test } from "node:test";
import { calculateJwkThumbprint, decodeProtectedHeader, importJWK, jwtVerify } from "jose";
import { FakeClock } from "../../../api/clock.ts";
import { isJumpgateError } from "../../../api/errors.ts";
import { generateEcdsaP256, generateEd25519, publicKeyToPem } from "../keys.ts";
import { APP_JWT_TTL_MS, jwkOf, jwksOf, jwkThumbprint, signAppToken, verifyAppToken } from "./appjwt.ts";

const clock = new FakeClock(new Date("2026-06-01T12:00:00Z"));
const ca = generateEcdsaP256();
const request = {
  key: ca.privateKey,
  issuer: "example.test",
  audience: "http://127.0.0.1:3000",
  username: "alice",
  roles: ["access", "dev"],
  traits: { logins: ["alice"], groups: ["eng"] },
  clock,
};
const opts = { audience: request.audience, issuer: request.issuer, clock };

const refused = async (p: Promise<unknown>, re: RegExp) =>
  assert.rejects(p, (e: unknown) => {
    assert.ok(isJumpgateError(e, "unauthenticated"), String(e));
    assert.match(e.message, re);
    return true;
  });

describe("app JWTs", () => {
  test("the JWK is the key's, with an RFC 7638 thumbprint as kid (checked against jose)", async () => {
    const jwk = jwkOf(publicKeyToPem(ca.publicKey));
    // Node reads the JWK back as the same key (an import: no JWK export of a fresh key, see crypto/keys.ts).
    const back = createPublicKey({ key: jwk, format: "jwk" }).export({ format: "der", type: "spki" });
    assert.deepEqual(back, ca.publicKey.export({ format: "der", type: "spki" }));
    assert.equal(jwk.kid, await calculateJwkThumbprint(jwk));
    assert.equal(jwkThumbprint(ca.privateKey), jwk.kid);
    const ed = jwkOf(generateEd25519().publicKey);
    assert.equal(ed.alg, "EdDSA");
    // Duplicates (the same key listed twice during a rotation) appear once.
    assert.equal(jwksOf([ca.publicKey, publicKeyToPem(ca.publicKey)]).keys.length, 1);
  });

  test("a signed token verifies against the JWKS and carries the identity", async () => {
    const token = await signAppToken(request);
    assert.deepEqual(decodeProtectedHeader(token), { alg: "ES256", typ: "JWT", kid: jwkOf(ca.publicKey).kid });
    const c = await verifyAppToken(token, jwksOf([ca.publicKey]), opts);
    assert.equal(c.username, "alice");
    assert.equal(c.sub, "alice");
    assert.deepEqual(c.roles, ["access", "dev"]);
    assert.deepEqual(c.traits, { logins: ["alice"], groups: ["eng"] });
    assert.deepEqual(c.aud, ["http://127.0.0.1:3000"]);
    assert.equal(c.iss, "example.test");
    assert.equal(c.exp - c.iat, APP_JWT_TTL_MS / 1000);
    // What an app in any language does: pick the key by kid, verify ES256.
    const jwk = jwksOf([ca.publicKey]).keys[0];
    assert.ok(jwk);
    const { payload } = await jwtVerify(token, await importJWK(jwk, "ES256"), { currentDate: clock.now() });
    assert.equal(payload.username, "alice");
  });

  test("EdDSA keys sign too", async () => {
    const ed = generateEd25519();
    const token = await signAppToken({ ...request, key: ed.privateKey });
    assert.equal(decodeProtectedHeader(token).alg, "EdDSA");
    assert.equal((await verifyAppToken(token, jwksOf([ed.publicKey]), opts)).username, "alice");
  });

  test("expired, foreign-key, other-audience, other-issuer and tampered tokens are refused", async () => {
    const jwks = jwksOf([ca.publicKey]);
    const token = await signAppToken({ ...request, ttlMs: 60_000 });
    const later = new FakeClock(new Date(clock.now().getTime() + 61_000));
    await refused(verifyAppToken(token, jwks, { ...opts, clock: later }), /"exp" claim timestamp check failed/);
    const foreign = await signAppToken({ ...request, key: generateEcdsaP256().privateKey });
    await refused(verifyAppToken(foreign, jwks, opts), /no applicable key found in the JSON Web Key Set/);
    await refused(verifyAppToken(token, jwks, { ...opts, audience: "http://other:80" }), /unexpected "aud" claim value/);
    await refused(verifyAppToken(token, jwks, { ...opts, issuer: "other.test" }), /unexpected "iss" claim value/);
    const [h, p, s] = token.split(".");
    const forged = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p ?? "", "base64url").toString()), username: "root" })).toString("base64url");
    await refused(verifyAppToken(`${h}.${forged}.${s}`, jwks, opts), /signature verification failed/);
    await refused(verifyAppToken("not.a.jwt", jwks, opts), /invalid app token/);
  });
});
