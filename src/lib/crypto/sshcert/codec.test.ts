import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FakeClock } from "../../../api/clock.ts";
import { isJumpgateError } from "../../../api/errors.ts";
import { generateEcdsaP256, generateEd25519, publicKeysEqual, sshPublicKeyLine } from "../keys.ts";
import { mustNotCrash, mutate, prng } from "../test-helpers.ts";
import { str, u32 } from "../wire.ts";
import { encodeCertificateBody, FOREVER, formatCertificateLine, parseCertificate } from "./codec.ts";
import { readHostCertExtensions, readUserCertExtensions } from "./extensions.ts";
import { signCertificate, signHostCertificate, signUserCertificate } from "./sign.ts";

const clock = new FakeClock(new Date("2026-03-01T12:00:00Z"));
const bad = (e: unknown) => isJumpgateError(e, "bad-parameter");

function userCert(subject = generateEd25519(), ca = generateEd25519()) {
  return signUserCertificate({
    publicKey: subject.publicKey,
    caKey: ca.privateKey,
    keyId: "alice",
    principals: ["root", "alice"],
    ttlMs: 3600_000,
    clock,
    permitPty: true,
    permitPortForwarding: false,
    permitAgentForwarding: true,
    permitX11Forwarding: false,
    roles: ["access", "editor"],
    traits: { logins: ["root", "alice"], groups: ["dev"] },
    routeToCluster: "example",
    activeRequests: ["req-1"],
    sourceAddress: ["127.0.0.1", "10.0.0.0/8"],
    serial: 77n,
  });
}

describe("ssh certificate codec", () => {
  for (const [subjectName, subject] of [
    ["ed25519", generateEd25519()],
    ["ecdsa", generateEcdsaP256()],
  ] as const) {
    for (const [caName, ca] of [
      ["ed25519", generateEd25519()],
      ["ecdsa", generateEcdsaP256()],
    ] as const) {
      it(`round-trips a user certificate (${subjectName} key, ${caName} CA)`, () => {
        const cert = userCert(subject, ca);
        const again = parseCertificate(formatCertificateLine(cert));
        assert.equal(again.algorithm, subjectName === "ed25519" ? "ssh-ed25519-cert-v01@openssh.com" : "ecdsa-sha2-nistp256-cert-v01@openssh.com");
        assert.ok(publicKeysEqual(again.publicKey, subject.publicKey));
        assert.ok(publicKeysEqual(again.signatureKey, ca.publicKey));
        assert.equal(again.serial, 77n);
        assert.equal(again.type, "user");
        assert.equal(again.keyId, "alice");
        assert.deepEqual(again.principals, ["root", "alice"]);
        assert.equal(again.validAfter.toISOString(), "2026-03-01T11:59:00.000Z");
        assert.equal(again.validBefore.toISOString(), "2026-03-01T13:00:00.000Z");
        assert.deepEqual(
          [...again.extensions.keys()],
          ["jumpgate-active-requests", "jumpgate-roles", "jumpgate-route-to-cluster", "jumpgate-traits", "permit-agent-forwarding", "permit-pty"],
        );
        assert.deepEqual([...again.criticalOptions], [["source-address", "127.0.0.1,10.0.0.0/8"]]);
        assert.deepEqual(encodeCertificateBody(again), again.signedData);
        assert.deepEqual(again.blob, cert.blob);
      });
    }
  }

  it("reads the Jumpgate extensions back", () => {
    const ext = readUserCertExtensions(userCert());
    assert.deepEqual(ext, {
      username: "alice",
      logins: ["root", "alice"],
      permitPty: true,
      permitPortForwarding: false,
      permitAgentForwarding: true,
      permitX11Forwarding: false,
      roles: ["access", "editor"],
      traits: { logins: ["root", "alice"], groups: ["dev"] },
      routeToCluster: "example",
      activeRequests: ["req-1"],
      sourceAddress: "127.0.0.1,10.0.0.0/8",
    });
    const host = signHostCertificate({
      publicKey: sshPublicKeyLine(generateEd25519().publicKey),
      caKey: generateEd25519().privateKey,
      hostId: "5d6c1f7e-0b1a-4c8e-9d3e-2f1a0b9c8d7e",
      clusterName: "example",
      principals: ["web-1", "10.0.0.5", "web-1"],
      role: "node",
      ttlMs: 3600_000,
      clock,
    });
    assert.deepEqual(readHostCertExtensions(host), {
      hostId: "5d6c1f7e-0b1a-4c8e-9d3e-2f1a0b9c8d7e",
      principals: ["5d6c1f7e-0b1a-4c8e-9d3e-2f1a0b9c8d7e", "5d6c1f7e-0b1a-4c8e-9d3e-2f1a0b9c8d7e.example", "web-1", "10.0.0.5"],
      role: "node",
      clusterName: "example",
    });
    assert.throws(() => readUserCertExtensions(host), bad);
  });

  it("sorts extensions by name and encodes forever", () => {
    const ca = generateEd25519();
    const cert = signCertificate(
      {
        nonce: Buffer.alloc(32),
        publicKey: generateEd25519().publicKey,
        serial: 0n,
        type: "host",
        keyId: "h",
        principals: [],
        validAfterSeconds: 0n,
        validBeforeSeconds: FOREVER,
        criticalOptions: new Map(),
        extensions: new Map([
          ["zeta", "z"],
          ["Alpha", ""],
          ["alpha", "a"],
        ]),
        reserved: Buffer.alloc(0),
      },
      ca.privateKey,
    );
    assert.deepEqual([...cert.extensions.keys()], ["Alpha", "alpha", "zeta"]);
    assert.equal(cert.validBeforeSeconds, FOREVER);
    assert.equal(cert.validBefore.getTime(), 8.64e15);
  });

  it("refuses bad requests", () => {
    const ca = generateEd25519();
    const base = {
      publicKey: generateEd25519().publicKey,
      caKey: ca.privateKey,
      keyId: "alice",
      principals: ["root"],
      ttlMs: 1000,
      clock,
      permitPty: false,
      permitPortForwarding: false,
      permitAgentForwarding: false,
      permitX11Forwarding: false,
      roles: [],
      traits: {},
    };
    assert.throws(() => signUserCertificate({ ...base, principals: [] }), bad);
    assert.throws(() => signUserCertificate({ ...base, ttlMs: 0 }), bad);
    assert.throws(() => signUserCertificate({ ...base, keyId: "" }), bad);
    assert.throws(() => signUserCertificate({ ...base, sourceAddress: "not-an-ip" }), bad);
    assert.throws(() => signUserCertificate({ ...base, sourceAddress: "10.0.0.0/33" }), bad);
    assert.throws(() => signUserCertificate({ ...base, caKey: ca.publicKey }), bad);
  });

  it("rejects garbage with badParameter", () => {
    const good = userCert().blob;
    for (const b of [
      Buffer.alloc(0),
      Buffer.from("hello"),
      str("ssh-rsa-cert-v01@openssh.com"),
      Buffer.concat([good, Buffer.from([0])]),
      good.subarray(0, good.length - 1),
    ]) {
      assert.throws(() => parseCertificate(b), bad);
    }
    assert.throws(() => parseCertificate("ssh-ed25519-cert-v01@openssh.com !!!"), bad);
    assert.throws(() => parseCertificate(`ecdsa-sha2-nistp256-cert-v01@openssh.com ${good.toString("base64")}`), bad);
    // type 3 is neither user nor host
    const typeAt = good.indexOf(Buffer.concat([u32(1), str("alice")]));
    const wrongType = Buffer.from(good);
    wrongType.writeUInt32BE(3, typeAt);
    assert.throws(() => parseCertificate(wrongType), /unknown type 3/);
  });

  it("fuzz: thousands of random and mutated inputs never crash the parser", () => {
    const rnd = prng(7);
    const seeds = [userCert().blob, userCert(generateEcdsaP256(), generateEcdsaP256()).blob];
    for (let i = 0; i < 4000; i++) {
      let input: Buffer;
      if (i % 10 === 0) input = Buffer.from(Array.from({ length: Math.floor(rnd() * 300) }, () => Math.floor(rnd() * 256)));
      else {
        input = seeds[i % 2] ?? Buffer.alloc(0);
        for (let n = 1 + Math.floor(rnd() * 3); n > 0; n--) input = mutate(input, rnd);
      }
      mustNotCrash(() => parseCertificate(input), input);
      const line = `ssh-ed25519-cert-v01@openssh.com ${input.toString("base64")}`;
      mustNotCrash(() => parseCertificate(line), line);
    }
  });
});
