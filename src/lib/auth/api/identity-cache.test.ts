import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { describe, it } from "node:test";
import { FakeClock } from "../../../api/clock.ts";
import { createCa, decodeIdentity, generateEcdsaP256, type Identity, issueClientCertificate, issueServerCertificate } from "../../crypto/index.ts";
import { PeerIdentityCache } from "./identity-cache.ts";

const clock = new FakeClock(new Date("2026-03-01T12:00:00Z"));
const ca = await createCa({ commonName: "example", organization: "example user CA", clock });

function identity(username: string): Identity {
  return {
    kind: "user",
    username,
    roles: ["access"],
    logins: [username],
    traits: { logins: [username] },
    kubernetesGroups: [],
    kubernetesUsers: [],
    activeRequests: [],
    expires: new Date("2026-03-01T13:00:00Z"),
    systemRoles: [],
    clusterName: "example",
  };
}

async function cert(username: string): Promise<X509Certificate> {
  const pem = await issueClientCertificate({
    caCert: ca.certPem,
    caKey: ca.privateKey,
    publicKey: generateEcdsaP256().publicKey,
    identity: identity(username),
    ttlMs: 3600_000,
    clock,
  });
  return new X509Certificate(pem);
}

function counting() {
  const calls: number[] = [];
  const cache = new PeerIdentityCache(2, (der) => {
    calls.push(der.length);
    return decodeIdentity(der);
  });
  return { cache, calls };
}

describe("PeerIdentityCache", () => {
  it("decodes each certificate once, and a new object for the same bytes hits", async () => {
    const { cache, calls } = counting();
    const a = await cert("alice");
    const first = cache.lookup(a);
    const again = cache.lookup(new X509Certificate(a.raw));
    assert.equal(calls.length, 1);
    assert.ok(first.ok && again.ok);
    assert.equal(first.identity, again.identity);
    assert.deepEqual(first.identity, decodeIdentity(a));
  });

  it("keeps at most maxEntries, evicting the least recently used", async () => {
    const { cache, calls } = counting();
    const [a, b, c] = [await cert("a"), await cert("b"), await cert("c")];
    cache.lookup(a);
    cache.lookup(b);
    cache.lookup(a); // a is now younger than b
    cache.lookup(c); // evicts b
    assert.equal(cache.size, 2);
    assert.equal(calls.length, 3);
    cache.lookup(a);
    assert.equal(calls.length, 3);
    cache.lookup(b);
    assert.equal(calls.length, 4);
  });

  it("remembers certificates without an identity, with the reason", async () => {
    const { cache, calls } = counting();
    const plain = new X509Certificate(
      await issueServerCertificate({
        caCert: ca.certPem,
        caKey: ca.privateKey,
        publicKey: generateEcdsaP256().publicKey,
        commonName: "x",
        dnsNames: [],
        ipAddresses: [],
        ttlMs: 1000,
        clock,
      }),
    );
    for (let i = 0; i < 2; i++) assert.deepEqual(cache.lookup(plain), { ok: false, reason: "client certificate carries no Jumpgate identity" });
    assert.equal(calls.length, 1);
  });

  it("hands out frozen identities, so one caller cannot change what another sees", async () => {
    const { cache } = counting();
    const r = cache.lookup(await cert("alice"));
    assert.ok(r.ok);
    assert.ok(Object.isFrozen(r.identity));
    assert.ok(Object.isFrozen(r.identity.roles));
    assert.ok(Object.isFrozen(r.identity.traits));
    assert.throws(() => (r.identity.roles as string[]).push("editor"), TypeError);
    // The expiry is kept as issued: resolveCaller compares it with the clock on every call.
    assert.equal(r.identity.expires.toISOString(), "2026-03-01T13:00:00.000Z");
  });
});
