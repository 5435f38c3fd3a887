import assert from "node:assert/strict";
import crypto from "node:crypto";
import { describe, it } from "node:test";
import { FakeClock } from "../../../api/clock.ts";
import { isJumpgateError } from "../../../api/errors.ts";
import { generateEcdsaP256, generateEd25519 } from "../keys.ts";
import { mpint, str } from "../wire.ts";
import { parseCertificate, type SshCertificate } from "./codec.ts";
import { signCertificate, signSshData, signUserCertificate, type UserCertificateRequest } from "./sign.ts";
import { verifyCertificate, verifySshSignature } from "./verify.ts";

const start = new Date("2026-03-01T12:00:00Z");
const ca = generateEd25519();
const ecCa = generateEcdsaP256();

function issue(over: Partial<UserCertificateRequest> = {}): SshCertificate {
  return signUserCertificate({
    publicKey: generateEd25519().publicKey,
    caKey: ca.privateKey,
    keyId: "alice",
    principals: ["root"],
    ttlMs: 3600_000,
    clock: new FakeClock(start),
    permitPty: true,
    permitPortForwarding: true,
    permitAgentForwarding: false,
    permitX11Forwarding: false,
    roles: ["access"],
    traits: {},
    ...over,
  });
}

const denied = (message: RegExp) => (e: unknown) => isJumpgateError(e, "access-denied") && message.test((e as Error).message);
const at = (iso: string) => new FakeClock(new Date(iso));
const opts = (over: Partial<Parameters<typeof verifyCertificate>[1]> = {}) => ({
  trustedCaKeys: [generateEd25519().publicKey, ca.publicKey],
  type: "user" as const,
  principal: "root",
  clock: new FakeClock(start),
  ...over,
});

describe("verifyCertificate", () => {
  it("accepts a good certificate, from any form", () => {
    const cert = issue();
    assert.equal(verifyCertificate(cert, opts()).keyId, "alice");
    assert.equal(verifyCertificate(cert.blob, opts()).keyId, "alice");
    const ec = issue({ caKey: ecCa.privateKey, publicKey: generateEcdsaP256().publicKey });
    assert.equal(verifyCertificate(ec.blob.toString("base64").replace(/^/, `${ec.algorithm} `), opts({ trustedCaKeys: [ecCa.publicKey] })).keyId, "alice");
  });

  it("refuses an unknown authority", () => {
    assert.throws(
      () => verifyCertificate(issue(), opts({ trustedCaKeys: [generateEd25519().publicKey] })),
      denied(/^certificate signed by an unknown authority$/),
    );
  });

  it("refuses a tampered certificate", () => {
    const blob = Buffer.from(issue().blob);
    const i = blob.indexOf(Buffer.from("alice"));
    blob[i] = "m".charCodeAt(0); // key id becomes "mlice"
    assert.throws(() => verifyCertificate(blob, opts()), denied(/signature is invalid/));
    const sig = Buffer.from(issue().blob);
    sig[sig.length - 1] = (sig[sig.length - 1] ?? 0) ^ 1;
    assert.throws(() => verifyCertificate(sig, opts()), denied(/signature is invalid/));
  });

  it("refuses the wrong type", () => {
    assert.throws(() => verifyCertificate(issue(), opts({ type: "host" })), denied(/expected a host certificate, got a user certificate/));
  });

  it("checks the validity window (valid after is backdated one minute)", () => {
    const cert = issue();
    assert.ok(verifyCertificate(cert, opts({ clock: at("2026-03-01T11:59:00Z") })));
    assert.throws(() => verifyCertificate(cert, opts({ clock: at("2026-03-01T11:58:59Z") })), denied(/not valid before 2026-03-01T11:59:00.000Z/));
    assert.ok(verifyCertificate(cert, opts({ clock: at("2026-03-01T12:59:59Z") })));
    assert.throws(() => verifyCertificate(cert, opts({ clock: at("2026-03-01T13:00:00Z") })), denied(/^certificate expired at 2026-03-01T13:00:00.000Z$/));
  });

  it("checks the principal", () => {
    assert.throws(() => verifyCertificate(issue(), opts({ principal: "admin" })), denied(/not valid for principal "admin"/));
    assert.ok(verifyCertificate(issue(), opts({ principal: undefined })));
  });

  it("enforces source-address and refuses unknown critical options", () => {
    const pinned = issue({ sourceAddress: "10.0.0.0/8,::1" });
    assert.throws(() => verifyCertificate(pinned, opts()), denied(/client address is unknown/));
    assert.ok(verifyCertificate(pinned, opts({ sourceAddress: "10.1.2.3" })));
    assert.ok(verifyCertificate(pinned, opts({ sourceAddress: "::ffff:10.1.2.3" })));
    assert.ok(verifyCertificate(pinned, opts({ sourceAddress: "::1" })));
    assert.throws(() => verifyCertificate(pinned, opts({ sourceAddress: "192.168.1.1" })), denied(/not allowed by the certificate's source-address/));

    const base = issue();
    const forced = signCertificate({ ...base, criticalOptions: new Map([["force-command", "/bin/true"]]) }, ca.privateKey);
    assert.throws(() => verifyCertificate(forced, opts()), denied(/unsupported critical option "force-command"/));
    assert.equal(verifyCertificate(forced, opts({ allowCriticalOptions: ["force-command"] })).criticalOptions.get("force-command"), "/bin/true");
  });

  it("reports unparseable input as badParameter", () => {
    assert.throws(
      () => verifyCertificate(Buffer.from("junk"), opts()),
      (e) => isJumpgateError(e, "bad-parameter"),
    );
  });
});

describe("verifySshSignature", () => {
  const data = Buffer.from("session-id and userauth request");
  for (const [name, pair] of [
    ["ed25519", generateEd25519()],
    ["ecdsa", generateEcdsaP256()],
  ] as const) {
    it(`verifies ${name} signature blobs and rejects tampering`, () => {
      const blob = signSshData(pair.privateKey, data);
      assert.ok(verifySshSignature(pair.publicKey, data, blob));
      assert.equal(verifySshSignature(pair.publicKey, Buffer.from("other"), blob), false);
      assert.equal(verifySshSignature(generateEd25519().publicKey, data, blob), false);
      const flipped = Buffer.from(blob);
      flipped[flipped.length - 2] = (flipped[flipped.length - 2] ?? 0) ^ 0x10;
      assert.equal(verifySshSignature(pair.publicKey, data, flipped), false);
      for (let n = 0; n < blob.length; n++) assert.equal(verifySshSignature(pair.publicKey, data, blob.subarray(0, n)), false);
    });
  }

  it("accepts an ECDSA signature whose r, s carry sign bytes, as OpenSSH writes them", () => {
    const pair = generateEcdsaP256();
    for (let i = 0; i < 20; i++) {
      const rs = crypto.sign("sha256", data, { key: pair.privateKey, dsaEncoding: "ieee-p1363" });
      const blob = Buffer.concat([str("ecdsa-sha2-nistp256"), str(Buffer.concat([mpint(rs.subarray(0, 32)), mpint(rs.subarray(32))]))]);
      assert.ok(verifySshSignature(pair.publicKey, data, blob));
    }
  });

  it("refuses a signature with an algorithm that does not match the key", () => {
    const pair = generateEd25519();
    const sig = crypto.sign(null, data, pair.privateKey);
    assert.equal(verifySshSignature(pair.publicKey, data, Buffer.concat([str("ssh-rsa"), str(sig)])), false);
  });

  it("parses what it signs", () => {
    assert.equal(parseCertificate(issue().blob).type, "user");
  });
});
