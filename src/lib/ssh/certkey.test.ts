import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import ssh2 from "ssh2";
import { startSshd } from "../../../test/harness/sshd.ts";
import { systemClock } from "../../api/clock.ts";
import { formatCertificateLine, generateEd25519, generateKeySet, signUserCertificate, trustedUserCaKeysLine } from "../crypto/index.ts";
import { certificateKey } from "./certkey.ts";

// Pins patches/ssh2+*.patch: without it the ssh2 client cannot log in with a certificate.
test("the ssh2 client logs in to a stock sshd with an OpenSSH user certificate", async () => {
  const dir = mkdtempSync(join(tmpdir(), "jg-certkey-"));
  const ca = generateEd25519();
  writeFileSync(join(dir, "ca.pub"), `${trustedUserCaKeysLine(ca.publicKey)}\n`);
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(dir, "hk")]);
  const sshd = await startSshd(dir, [
    `HostKey ${join(dir, "hk")}`,
    `TrustedUserCAKeys ${join(dir, "ca.pub")}`,
    "AuthorizedKeysFile none",
    "PermitRootLogin prohibit-password",
  ]);
  try {
    const ks = generateKeySet();
    const cert = signUserCertificate({
      publicKey: ks.ssh.publicKey,
      caKey: ca.privateKey,
      keyId: "alice",
      principals: ["root"],
      ttlMs: 3600_000,
      clock: systemClock,
      permitPty: true,
      permitPortForwarding: false,
      permitAgentForwarding: false,
      permitX11Forwarding: false,
      roles: [],
      traits: {},
      routeToCluster: "t",
      activeRequests: [],
    });
    const key = certificateKey(ks.ssh.privateKey, formatCertificateLine(cert));
    const out = await new Promise<string>((resolve, reject) => {
      const c = new ssh2.Client();
      c.on("error", reject);
      c.on("ready", () =>
        c.exec("echo cert-login-ok", (err, stream) => {
          if (err) return reject(err);
          let text = "";
          stream.on("data", (d: Buffer) => (text += d.toString()));
          stream.on("close", () => {
            c.end();
            resolve(text.trim());
          });
        }),
      );
      const auth: ssh2.PublicKeyAuthMethod = { type: "publickey", username: "root", key };
      c.connect({ host: "127.0.0.1", port: sshd.port, username: "root", authHandler: [auth] });
    });
    assert.equal(out, "cert-login-ok");
  } finally {
    await sshd.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
