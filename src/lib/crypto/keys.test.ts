import assert from "node:assert/strict";
import crypto from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { isJumpgateError } from "../../api/errors.ts";
import {
  generateEcdsaP256,
  generateEd25519,
  parseSshPublicKey,
  privateKeyFromPem,
  privateKeyToPem,
  publicKeyFromPem,
  publicKeysEqual,
  publicKeyToPem,
  sshFingerprint,
  sshPublicKeyBlob,
  sshPublicKeyLine,
} from "./keys.ts";
import { parseOpenSshPrivateKey, writeOpenSshPrivateKey } from "./openssh-key.ts";
import { mustNotCrash, mutate, prng, runOk, tempDir, writeSecret } from "./test-helpers.ts";
import { mpint, str, WireReader } from "./wire.ts";

const tmp = tempDir();
after(tmp.cleanup);

const kinds = [
  { name: "ed25519", gen: generateEd25519, prefix: "ssh-ed25519", bits: "256" },
  { name: "ecdsa", gen: generateEcdsaP256, prefix: "ecdsa-sha2-nistp256", bits: "256" },
] as const;

describe("wire", () => {
  it("encodes mpints minimally and with a sign byte", () => {
    assert.deepEqual(mpint(Buffer.from([0, 0, 0x12])), Buffer.from([0, 0, 0, 1, 0x12]));
    assert.deepEqual(mpint(Buffer.from([0x80])), Buffer.from([0, 0, 0, 2, 0, 0x80]));
    assert.deepEqual(mpint(Buffer.alloc(0)), Buffer.from([0, 0, 0, 0]));
  });
  it("rejects truncated and negative fields with badParameter", () => {
    assert.throws(
      () => new WireReader(Buffer.from([0, 0, 0, 5, 1])).bytes(),
      (e) => isJumpgateError(e, "bad-parameter"),
    );
    assert.throws(
      () => new WireReader(str(Buffer.from([0x80]))).unsignedMpint(),
      (e) => isJumpgateError(e, "bad-parameter"),
    );
    assert.throws(
      () => new WireReader(str(Buffer.from([0xff, 0xfe]))).text(),
      (e) => isJumpgateError(e, "bad-parameter"),
    );
  });
});

for (const k of kinds) {
  describe(`${k.name} keys`, () => {
    const pair = k.gen();

    it("round-trips the public key line and blob", () => {
      const line = sshPublicKeyLine(pair.publicKey, "alice@laptop");
      assert.match(line, new RegExp(`^${k.prefix} AAAA[A-Za-z0-9+/=]+ alice@laptop$`));
      assert.ok(publicKeysEqual(parseSshPublicKey(line), pair.publicKey));
      assert.ok(publicKeysEqual(parseSshPublicKey(sshPublicKeyBlob(pair.privateKey)), pair.publicKey));
    });

    it("writes a private key file that ssh-keygen reads, with the same fingerprint", () => {
      const file = join(tmp.dir, `id_${k.name}`);
      writeSecret(file, writeOpenSshPrivateKey(pair.privateKey, "test@jumpgate"));
      const derived = runOk("ssh-keygen", ["-y", "-f", file]).trim();
      assert.ok(publicKeysEqual(parseSshPublicKey(derived), pair.publicKey));
      const fp = runOk("ssh-keygen", ["-l", "-E", "sha256", "-f", file]).trim();
      assert.equal(fp, `${k.bits} ${sshFingerprint(pair.publicKey)} test@jumpgate (${k.name === "ed25519" ? "ED25519" : "ECDSA"})`);
      assert.equal(sshFingerprint(derived), sshFingerprint(pair.publicKey));
    });

    it("parses its own private key file back", () => {
      const parsed = parseOpenSshPrivateKey(writeOpenSshPrivateKey(pair.privateKey, "c"));
      assert.equal(parsed.comment, "c");
      assert.ok(publicKeysEqual(parsed.privateKey, pair.publicKey));
      const data = Buffer.from("x");
      const hash = k.name === "ed25519" ? null : "sha256";
      assert.ok(crypto.verify(hash, data, pair.publicKey, crypto.sign(hash, data, parsed.privateKey)));
    });

    it("parses private keys that ssh-keygen generated", () => {
      const file = join(tmp.dir, `gen_${k.name}`);
      runOk("ssh-keygen", ["-q", "-t", k.name, "-N", "", "-C", "made-by-ssh-keygen", "-f", file]);
      const parsed = parseOpenSshPrivateKey(readFileSync(file, "utf8"));
      assert.equal(parsed.comment, "made-by-ssh-keygen");
      assert.ok(publicKeysEqual(parsed.publicKey, parseSshPublicKey(readFileSync(`${file}.pub`, "utf8"))));
      assert.ok(publicKeysEqual(parsed.privateKey, parsed.publicKey));
    });

    it("round-trips PEM", () => {
      assert.ok(publicKeysEqual(privateKeyFromPem(privateKeyToPem(pair.privateKey)), pair.publicKey));
      assert.ok(publicKeysEqual(publicKeyFromPem(publicKeyToPem(pair.privateKey)), pair.publicKey));
    });
  });
}

describe("key parsing rejects garbage", () => {
  it("refuses encrypted keys, mismatched halves and bad lines with badParameter", () => {
    const file = join(tmp.dir, "encrypted");
    runOk("ssh-keygen", ["-q", "-t", "ed25519", "-N", "secret", "-f", file]);
    assert.throws(() => parseOpenSshPrivateKey(readFileSync(file, "utf8")), /encrypted/);
    const a = generateEd25519();
    const body = Buffer.from(writeOpenSshPrivateKey(a.privateKey).split("\n").slice(1, -2).join(""), "base64");
    const outer = sshPublicKeyBlob(a.publicKey);
    const at = body.indexOf(outer);
    sshPublicKeyBlob(generateEd25519().publicKey).copy(body, at);
    const swapped = `-----BEGIN OPENSSH PRIVATE KEY-----\n${body.toString("base64")}\n-----END OPENSSH PRIVATE KEY-----\n`;
    assert.throws(() => parseOpenSshPrivateKey(swapped), /do not match/);
    for (const bad of [
      "",
      "ssh-ed25519",
      "ssh-ed25519 AAAA",
      "ssh-rsa AAAAB3NzaC1yc2E=",
      `ecdsa-sha2-nistp256 ${sshPublicKeyBlob(generateEd25519().publicKey).toString("base64")}`,
    ]) {
      assert.throws(
        () => parseSshPublicKey(bad),
        (e) => isJumpgateError(e, "bad-parameter"),
        bad,
      );
    }
    assert.throws(
      () => privateKeyFromPem("nope"),
      (e) => isJumpgateError(e, "bad-parameter"),
    );
  });

  it("rejects an ECDSA point that is not on the curve", () => {
    const blob = Buffer.concat([str("ecdsa-sha2-nistp256"), str("nistp256"), str(Buffer.concat([Buffer.from([4]), Buffer.alloc(64, 7)]))]);
    assert.throws(
      () => parseSshPublicKey(blob),
      (e) => isJumpgateError(e, "bad-parameter"),
    );
  });

  it("fuzz: mutated public keys and private key files never crash", () => {
    const rnd = prng(42);
    const seeds = [sshPublicKeyBlob(generateEd25519().publicKey), sshPublicKeyBlob(generateEcdsaP256().publicKey)];
    const files = [writeOpenSshPrivateKey(generateEd25519().privateKey, "x"), writeOpenSshPrivateKey(generateEcdsaP256().privateKey, "y")];
    for (let i = 0; i < 1500; i++) {
      const blob = mutate(seeds[i % 2] ?? Buffer.alloc(0), rnd);
      mustNotCrash(() => parseSshPublicKey(blob), blob);
      const body = Buffer.from((files[i % 2] ?? "").split("\n").slice(1, -2).join(""), "base64");
      const text = `-----BEGIN OPENSSH PRIVATE KEY-----\n${mutate(body, rnd).toString("base64")}\n-----END OPENSSH PRIVATE KEY-----\n`;
      mustNotCrash(() => parseOpenSshPrivateKey(text), text);
    }
  });
});
