/** Interop with OpenSSH's ssh-keygen: it reads our certificates, and we read and verify its own. */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { FakeClock, systemClock } from "../../../api/clock.ts";
import { generateEcdsaP256, generateEd25519, type KeyPair, parseSshPublicKey, publicKeysEqual, sshFingerprint, sshPublicKeyLine } from "../keys.ts";
import { runOk, tempDir } from "../test-helpers.ts";
import { str } from "../wire.ts";
import { formatCertificateLine, type SshCertificate } from "./codec.ts";
import { knownHostsCaLine, trustedUserCaKeysLine } from "./lines.ts";
import { signHostCertificate, signUserCertificate } from "./sign.ts";
import { verifyCertificate } from "./verify.ts";

const tmp = tempDir();
after(tmp.cleanup);

const gens: Record<string, () => KeyPair> = { ed25519: generateEd25519, ecdsa: generateEcdsaP256 };
const clock = new FakeClock(new Date("2026-03-01T12:00:00Z"));

/** ssh-keygen -L, as { field: value } plus the indented lists. */
function keygenList(cert: SshCertificate): string {
  const file = join(tmp.dir, `c${Math.random().toString(36).slice(2)}-cert.pub`);
  writeFileSync(file, `${formatCertificateLine(cert)}\n`);
  return runOk("ssh-keygen", ["-L", "-f", file]);
}

/** How ssh-keygen prints an option it does not know: hex of its data and the data's length. */
function unknownOption(value: string): string {
  const data = str(value);
  return `UNKNOWN OPTION: ${data.toString("hex")} (len ${data.length})`;
}

describe("ssh-keygen reads our certificates", () => {
  for (const keyType of ["ed25519", "ecdsa"]) {
    for (const caType of ["ed25519", "ecdsa"]) {
      it(`user certificate, ${keyType} key, ${caType} CA`, () => {
        const ca = (gens[caType] ?? generateEd25519)();
        const cert = signUserCertificate({
          publicKey: (gens[keyType] ?? generateEd25519)().publicKey,
          caKey: ca.privateKey,
          keyId: "alice",
          principals: ["root", "alice"],
          ttlMs: 12 * 3600_000,
          clock,
          permitPty: true,
          permitPortForwarding: true,
          permitAgentForwarding: false,
          permitX11Forwarding: true,
          roles: ["access", "editor"],
          traits: { logins: ["root"] },
          routeToCluster: "example",
          activeRequests: ["9f0c"],
          sourceAddress: "127.0.0.1/32,10.0.0.0/8",
          serial: 4242n,
        });
        const out = keygenList(cert);
        const typeName = keyType === "ed25519" ? "ssh-ed25519-cert-v01@openssh.com" : "ecdsa-sha2-nistp256-cert-v01@openssh.com";
        assert.match(out, new RegExp(`Type: ${typeName} user certificate`));
        assert.ok(out.includes(`Public key: ${keyType === "ed25519" ? "ED25519" : "ECDSA"}-CERT ${sshFingerprint(cert.publicKey)}`));
        assert.ok(out.includes(`Signing CA: ${caType === "ed25519" ? "ED25519" : "ECDSA"} ${sshFingerprint(ca.publicKey)}`));
        assert.ok(out.includes('Key ID: "alice"'));
        assert.ok(out.includes("Serial: 4242"));
        assert.ok(out.includes("Valid: from 2026-03-01T11:59:00 to 2026-03-02T00:00:00"));
        assert.match(out, /Principals: \n\s+root\n\s+alice\n/);
        assert.match(out, /Critical Options: \n\s+source-address 127.0.0.1\/32,10.0.0.0\/8\n/);
        const ext = out
          .slice(out.indexOf("Extensions:"))
          .split("\n")
          .slice(1)
          .map((l) => l.trim())
          .filter(Boolean);
        assert.deepEqual(ext, [
          `jumpgate-active-requests ${unknownOption('["9f0c"]')}`,
          `jumpgate-roles ${unknownOption('["access","editor"]')}`,
          `jumpgate-route-to-cluster ${unknownOption("example")}`,
          `jumpgate-traits ${unknownOption('{"logins":["root"]}')}`,
          "permit-X11-forwarding",
          "permit-port-forwarding",
          "permit-pty",
        ]);
      });
    }
  }

  it("host certificate", () => {
    const ca = generateEd25519();
    const cert = signHostCertificate({
      publicKey: generateEd25519().publicKey,
      caKey: ca.privateKey,
      hostId: "0c1d2e3f-4a5b-6c7d-8e9f-a0b1c2d3e4f5",
      clusterName: "example",
      principals: ["web-1", "web-1.example.com", "192.0.2.10"],
      role: "node",
      ttlMs: 24 * 3600_000,
      clock,
    });
    const out = keygenList(cert);
    assert.match(out, /Type: ssh-ed25519-cert-v01@openssh.com host certificate/);
    assert.ok(out.includes('Key ID: "0c1d2e3f-4a5b-6c7d-8e9f-a0b1c2d3e4f5"'));
    assert.match(
      out,
      /Principals: \n\s+0c1d2e3f-4a5b-6c7d-8e9f-a0b1c2d3e4f5\n\s+0c1d2e3f-4a5b-6c7d-8e9f-a0b1c2d3e4f5.example\n\s+web-1\n\s+web-1.example.com\n\s+192.0.2.10\n/,
    );
    assert.match(out, /Critical Options: \(none\)/);
    assert.ok(out.includes(`jumpgate-authority ${unknownOption("example")}`));
    assert.ok(out.includes(`jumpgate-role ${unknownOption("node")}`));
  });
});

describe("we read and verify ssh-keygen's certificates", () => {
  for (const keyType of ["ed25519", "ecdsa"]) {
    for (const caType of ["ed25519", "ecdsa"]) {
      for (const certType of ["user", "host"] as const) {
        it(`${certType} certificate, ${keyType} key, ${caType} CA`, () => {
          const base = join(tmp.dir, `kg-${keyType}-${caType}-${certType}`);
          runOk("ssh-keygen", ["-q", "-t", caType, "-N", "", "-f", `${base}-ca`]);
          runOk("ssh-keygen", ["-q", "-t", keyType, "-N", "", "-f", `${base}-key`]);
          const extra = certType === "host" ? ["-h"] : ["-O", "source-address=127.0.0.1,10.0.0.0/8", "-O", "extension:custom@example.com=hello"];
          runOk("ssh-keygen", ["-q", "-s", `${base}-ca`, "-I", "kg-id", "-n", "a,b", "-V", "+1h", "-z", "99", ...extra, `${base}-key.pub`]);
          const caPub = parseSshPublicKey(readFileSync(`${base}-ca.pub`, "utf8"));
          const line = readFileSync(`${base}-key-cert.pub`, "utf8");
          const cert = verifyCertificate(line, { trustedCaKeys: [caPub], type: certType, principal: "a", clock: systemClock, sourceAddress: "10.9.8.7" });
          assert.equal(cert.keyId, "kg-id");
          assert.equal(cert.serial, 99n);
          assert.deepEqual(cert.principals, ["a", "b"]);
          assert.ok(publicKeysEqual(cert.publicKey, parseSshPublicKey(readFileSync(`${base}-key.pub`, "utf8"))));
          assert.ok(Math.abs(cert.validBefore.getTime() - cert.validAfter.getTime() - 3660_000) <= 60_000);
          if (certType === "user") {
            assert.deepEqual(
              [...cert.extensions],
              [
                ["custom@example.com", "hello"],
                ["permit-X11-forwarding", ""],
                ["permit-agent-forwarding", ""],
                ["permit-port-forwarding", ""],
                ["permit-pty", ""],
                ["permit-user-rc", ""],
              ],
            );
            assert.equal(cert.criticalOptions.get("source-address"), "127.0.0.1,10.0.0.0/8");
          }
          assert.throws(() => verifyCertificate(line, { trustedCaKeys: [caPub], type: certType, principal: "c", clock: systemClock }));
          assert.throws(() => verifyCertificate(line, { trustedCaKeys: [generateEd25519().publicKey], type: certType, clock: systemClock }));
        });
      }
    }
  }
});

describe("trust lines", () => {
  it("formats known_hosts and TrustedUserCAKeys lines", () => {
    const ca = generateEd25519();
    assert.equal(knownHostsCaLine(ca.publicKey, "example"), `@cert-authority *.example,example ${sshPublicKeyLine(ca.publicKey)}`);
    assert.equal(trustedUserCaKeysLine(ca.publicKey), sshPublicKeyLine(ca.publicKey));
    assert.throws(() => knownHostsCaLine(ca.publicKey, "a b"));
  });
});
