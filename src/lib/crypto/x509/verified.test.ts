import assert from "node:assert/strict";
import crypto from "node:crypto";
import { describe, it } from "node:test";
import { FakeClock } from "../../../api/clock.ts";
import { isJumpgateError } from "../../../api/errors.ts";
import { createCa } from "./ca.ts";
import type { Identity } from "./identity.ts";
import { issueClientCertificate } from "./issue.ts";
import { VerifiedIdentityCache } from "./verified.ts";

const denied = (re: RegExp) => (e: unknown) => isJumpgateError(e, "access-denied") && re.test((e as Error).message);

describe("VerifiedIdentityCache", () => {
  it("verifies once per certificate, checks validity every time, and refuses what verifyChain refuses", async () => {
    const clock = new FakeClock(new Date());
    const userCa = await createCa({ commonName: "test", organization: "user", clock });
    const foreignCa = await createCa({ commonName: "other", organization: "user", clock });
    const { publicKey } = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" });
    const identity: Identity = {
      kind: "user",
      username: "alice",
      roles: ["access"],
      logins: [],
      traits: {},
      kubernetesGroups: [],
      kubernetesUsers: [],
      activeRequests: [],
      expires: new Date(clock.now().getTime() + 3600_000),
      systemRoles: [],
      clusterName: "test",
    };
    const pem = await issueClientCertificate({ caCert: userCa.certPem, caKey: userCa.privateKey, publicKey, identity, ttlMs: 3600_000, clock });
    const cache = new VerifiedIdentityCache(2);
    const a = cache.verify(pem, [userCa.certPem], clock);
    assert.equal(a.username, "alice");
    assert.ok(Object.isFrozen(a) && Object.isFrozen(a.roles));
    // The same certificate as PEM, DER or X509Certificate is one entry.
    assert.equal(cache.verify(new crypto.X509Certificate(pem), [userCa.certPem], clock), a);
    assert.equal(cache.verify(new crypto.X509Certificate(pem).raw, [userCa.certPem], clock), a);
    assert.equal(cache.size, 1);
    // Another CA set: checked again, and refused.
    assert.throws(() => cache.verify(pem, [foreignCa.certPem], clock), denied(/unknown authority/));
    // Expiry is checked against the clock on a hit too, with verifyChain's message.
    cache.verify(pem, [userCa.certPem], clock);
    clock.advance(2 * 3600_000);
    assert.throws(() => cache.verify(pem, [userCa.certPem], clock), denied(/^certificate expired at/));
    assert.throws(
      () => cache.verify("garbage", [userCa.certPem], clock),
      (e) => isJumpgateError(e, "bad-parameter"),
    );
  });
});
