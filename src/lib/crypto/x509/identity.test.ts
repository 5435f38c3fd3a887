import assert from "node:assert/strict";
import crypto from "node:crypto";
import { describe, it } from "node:test";
import { FakeClock } from "../../../api/clock.ts";
import { isJumpgateError } from "../../../api/errors.ts";
import { generateEcdsaP256 } from "../keys.ts";
import { mustNotCrash, mutate, prng } from "../test-helpers.ts";
import { createCa } from "./ca.ts";
import { decodeIdentity, decodeIdentityPayload, encodeIdentity, IDENTITY_OID, type Identity } from "./identity.ts";
import { issueClientCertificate, issueServerCertificate } from "./issue.ts";

const clock = new FakeClock(new Date("2026-03-01T12:00:00Z"));
const bad = (e: unknown) => isJumpgateError(e, "bad-parameter");

const user: Identity = {
  kind: "user",
  username: "alice@example.com",
  roles: ["access", "editor", "ünïcødé"],
  logins: ["root", "alice"],
  traits: { logins: ["root", "alice"], groups: ["dev", "ops"], ["__proto__"]: ["x"] },
  routeToCluster: "example",
  routeToDatabase: { serviceName: "pg", protocol: "postgres", username: "alice", database: "app" },
  routeToApp: { name: "grafana", publicAddr: "grafana.example.com", clusterName: "example", sessionId: "s-1" },
  kubernetesGroups: ["system:masters"],
  kubernetesUsers: ["alice"],
  activeRequests: ["req-1"],
  mfaVerified: true,
  expires: new Date("2026-03-01T13:00:00Z"),
  systemRoles: [],
  clusterName: "example",
};

const host: Identity = {
  kind: "host",
  username: "0c1d2e3f-4a5b-6c7d-8e9f-a0b1c2d3e4f5",
  roles: [],
  logins: [],
  traits: {},
  kubernetesGroups: [],
  kubernetesUsers: [],
  activeRequests: [],
  expires: new Date("2026-03-02T12:00:00Z"),
  systemRoles: ["node", "proxy"],
  hostId: "0c1d2e3f-4a5b-6c7d-8e9f-a0b1c2d3e4f5",
  nodeName: "web-1",
  clusterName: "example",
};

const ca = await createCa({ commonName: "example", organization: "example user CA", clock });

describe("identity format", () => {
  it("round-trips a user identity through a client certificate (PEM, DER and Node X509Certificate)", async () => {
    const pem = await issueClientCertificate({
      caCert: ca.certPem,
      caKey: ca.privateKey,
      publicKey: generateEcdsaP256().publicKey,
      identity: user,
      ttlMs: 3600_000,
      clock,
    });
    const nodeCert = new crypto.X509Certificate(pem);
    for (const form of [pem, nodeCert.raw, nodeCert]) {
      const got = decodeIdentity(form);
      assert.deepEqual(got, user);
      assert.equal(Object.getPrototypeOf(got.traits), Object.prototype);
    }
    assert.match(nodeCert.subject, /CN=alice@example.com/);
  });

  it("round-trips a host identity (O carries the system roles)", async () => {
    const pem = await issueServerCertificate({
      caCert: ca.certPem,
      caKey: ca.privateKey,
      publicKey: generateEcdsaP256().publicKey,
      commonName: host.username,
      dnsNames: ["web-1"],
      ipAddresses: ["127.0.0.1"],
      identity: host,
      ttlMs: 24 * 3600_000,
      clock,
    });
    assert.deepEqual(decodeIdentity(pem), host);
  });

  it("keeps names with DN metacharacters literally (no RFC 4514 unescaping, no #hex)", async () => {
    const odd: Identity = { ...user, username: ' #a,b=c+d"<>;\\ ', roles: ["#3000", '"q"', "r+2"], logins: ["l=1", "\\0a", "日本"] };
    const pem = await issueClientCertificate({
      caCert: ca.certPem,
      caKey: ca.privateKey,
      publicKey: generateEcdsaP256().publicKey,
      identity: odd,
      ttlMs: 3600_000,
      clock,
    });
    const got = decodeIdentity(pem);
    assert.equal(got.username, odd.username);
    assert.deepEqual(got.roles, odd.roles);
    assert.deepEqual(got.logins, odd.logins);
  });

  it("takes expires from the certificate's notAfter", async () => {
    const pem = await issueClientCertificate({
      caCert: ca.certPem,
      caKey: ca.privateKey,
      publicKey: generateEcdsaP256().publicKey,
      identity: { ...user, expires: new Date("2030-01-01T00:00:00Z") },
      ttlMs: 60_000,
      clock,
    });
    assert.equal(decodeIdentity(pem).expires.toISOString(), "2026-03-01T12:01:00.000Z");
  });

  it("puts one name entry per role and login", () => {
    const enc = encodeIdentity(user);
    assert.deepEqual(enc.subject, [{ CN: ["alice@example.com"] }, { O: ["access"] }, { O: ["editor"] }, { O: ["ünïcødé"] }, { L: ["root"] }, { L: ["alice"] }]);
    assert.equal(enc.extension.oid, IDENTITY_OID);
    assert.equal(enc.extension.critical, false);
    assert.equal(enc.extension.value[0], 0x0c);
  });

  it("refuses inconsistent identities", () => {
    assert.throws(() => encodeIdentity({ ...host, hostId: "other" }), bad);
    assert.throws(() => encodeIdentity({ ...user, username: "" }), bad);
    assert.throws(() => encodeIdentity({ ...user, expires: new Date("nope") }), bad);
  });

  it("throws badParameter on garbage and on certificates without an identity", async () => {
    for (const g of ["", "hello", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", Buffer.from([0x30, 0x03, 0x02, 0x01, 0x01])]) {
      assert.throws(() => decodeIdentity(g), bad);
    }
    assert.throws(() => decodeIdentity(ca.certPem), /carries no Jumpgate identity/);
    const plain = await issueServerCertificate({
      caCert: ca.certPem,
      caKey: ca.privateKey,
      publicKey: generateEcdsaP256().publicKey,
      commonName: "x",
      dnsNames: [],
      ipAddresses: [],
      ttlMs: 1000,
      clock,
    });
    assert.throws(() => decodeIdentity(plain), /carries no Jumpgate identity/);
  });

  it("validates the payload's shape", () => {
    const utf8 = (s: string) => {
      const b = Buffer.from(s);
      return Buffer.concat([Buffer.from([0x0c, 0x82, b.length >> 8, b.length & 0xff]), b]);
    };
    const good = JSON.parse(encodeIdentity(user).extension.value.subarray(4).toString()) as Record<string, unknown>;
    assert.equal(decodeIdentityPayload(utf8(JSON.stringify({ ...good, future: 1 }))).kind, "user");
    for (const changed of [
      { v: 2 },
      { kind: "root" },
      { traits: { a: "b" } },
      { traits: [] },
      { expires: "tomorrow" },
      { activeRequests: [1] },
      { routeToDatabase: { serviceName: "x" } },
      { mfaVerified: "yes" },
    ]) {
      assert.throws(() => decodeIdentityPayload(utf8(JSON.stringify({ ...good, ...changed }))), bad, JSON.stringify(changed));
    }
    assert.throws(() => decodeIdentityPayload(utf8("{not json")), /not JSON/);
    assert.throws(() => decodeIdentityPayload(Buffer.from([0x04, 0x01, 0x41])), /not a UTF8String/);
    assert.throws(() => decodeIdentityPayload(Buffer.from([0x0c, 0x05, 0x41])), /bad length/);
  });

  it("fuzz: mutated certificates and payloads never crash the decoder", async () => {
    const rnd = prng(1234);
    const pem = await issueClientCertificate({
      caCert: ca.certPem,
      caKey: ca.privateKey,
      publicKey: generateEcdsaP256().publicKey,
      identity: user,
      ttlMs: 3600_000,
      clock,
    });
    const der = new crypto.X509Certificate(pem).raw;
    const payload = encodeIdentity(user).extension.value;
    const payloadAt = der.indexOf(payload.subarray(0, 40));
    assert.ok(payloadAt > 0);
    for (let i = 0; i < 3000; i++) {
      const p = mutate(payload, rnd);
      mustNotCrash(() => decodeIdentityPayload(p), p);
      if (i % 10 !== 0) continue; // whole certificates are slower to parse: every tenth round
      let input: Buffer = der;
      if (i % 20 === 0) {
        // mutate inside the JSON so that the certificate still parses and the payload validation runs
        const m = Buffer.from(der);
        const pos = payloadAt + 4 + Math.floor(rnd() * (payload.length - 4));
        m[pos] = ' {}[]",:0a\\'[Math.floor(rnd() * 11)]?.charCodeAt(0) ?? 0;
        input = m;
      } else {
        for (let n = 1 + Math.floor(rnd() * 2); n > 0; n--) input = mutate(input, rnd);
      }
      mustNotCrash(() => decodeIdentity(input), input);
    }
  });
});
