import assert from "node:assert/strict";
import crypto from "node:crypto";
import { describe, it } from "node:test";
import { isJumpgateError } from "../../../api/errors.ts";
import { generateEcdsaP256, generateEd25519 } from "../keys.ts";
import { prng } from "../test-helpers.ts";
import { SubjectPublicKey } from "./pubkey.ts";

const pemOf = (der: Buffer) => `-----BEGIN PUBLIC KEY-----\n${der.toString("base64").replace(/(.{64})/g, "$1\n")}\n-----END PUBLIC KEY-----\n`;

/** What OpenSSL makes of the same text: the SPKI it would put in a certificate, or undefined when it refuses. */
function openssl(pem: string): string | undefined {
  try {
    return crypto.createPublicKey(pem).export({ format: "der", type: "spki" }).toString("hex");
  } catch {
    return undefined;
  }
}

function ours(pem: string): string | undefined {
  try {
    return SubjectPublicKey.fromPem(pem).spki.toString("hex");
  } catch (e) {
    assert.ok(isJumpgateError(e, "bad-parameter"), String(e));
    return undefined;
  }
}

describe("SubjectPublicKey", () => {
  it("reads P-256 keys as OpenSSL does, in the forms Node writes", () => {
    for (let i = 0; i < 50; i++) {
      const k = generateEcdsaP256().publicKey;
      const pem = k.export({ format: "pem", type: "spki" }).toString();
      assert.equal(ours(pem), openssl(pem));
      assert.equal(ours(pem), k.export({ format: "der", type: "spki" }).toString("hex"));
      assert.equal(ours(pem.replaceAll("\n", "\r\n")), openssl(pem));
    }
  });

  it("falls back to node:crypto for other keys and forms (Ed25519, private keys, certificates' neighbours)", () => {
    const ed = generateEd25519();
    const ec = generateEcdsaP256();
    for (const pem of [
      ed.publicKey.export({ format: "pem", type: "spki" }).toString(),
      ec.privateKey.export({ format: "pem", type: "pkcs8" }).toString(),
      `junk before\n${ec.publicKey.export({ format: "pem", type: "spki" }).toString()}`,
      crypto.generateKeyPairSync("ec", { namedCurve: "P-384" }).publicKey.export({ format: "pem", type: "spki" }).toString(),
    ]) {
      assert.ok(openssl(pem));
      assert.equal(ours(pem), openssl(pem));
    }
    assert.equal(SubjectPublicKey.fromKeyObject(ec.privateKey).spki.toString("hex"), openssl(ec.publicKey.export({ format: "pem", type: "spki" }).toString()));
  });

  it("refuses points off the curve and coordinates out of range, as OpenSSL does", () => {
    const der = generateEcdsaP256().publicKey.export({ format: "der", type: "spki" });
    const p = Buffer.from("ffffffff00000001000000000000000000000000ffffffffffffffffffffffff", "hex");
    const offCurve = Buffer.from(der);
    offCurve[der.length - 1] = (offCurve[der.length - 1] ?? 0) ^ 1;
    const xIsP = Buffer.from(der);
    p.copy(xIsP, 27);
    const zero = Buffer.from(der);
    zero.fill(0, 27);
    for (const bad of [offCurve, xIsP, zero]) {
      assert.equal(openssl(pemOf(bad)), undefined);
      assert.equal(ours(pemOf(bad)), undefined);
    }
    for (const garbage of ["", "hello", "-----BEGIN PUBLIC KEY-----\n!!!!\n-----END PUBLIC KEY-----\n"]) assert.equal(ours(garbage), undefined);
  });

  it("fuzz: mutated keys get the same verdict and bytes as OpenSSL gives", () => {
    const rnd = prng(42);
    const der = generateEcdsaP256().publicKey.export({ format: "der", type: "spki" });
    for (let i = 0; i < 2000; i++) {
      const m = Buffer.from(der);
      for (let n = 1 + Math.floor(rnd() * 3); n > 0; n--) m[Math.floor(rnd() * m.length)] = Math.floor(rnd() * 256);
      const pem = pemOf(m);
      assert.equal(ours(pem), openssl(pem), m.toString("hex"));
    }
  });
});
