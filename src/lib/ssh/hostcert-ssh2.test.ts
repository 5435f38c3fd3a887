/**
 * Pins patches/ssh2+*.patch (client side of kex.js): an ssh2 client asking for
 * `*-cert-v01@openssh.com` host keys negotiates them with the patched ssh2
 * server and with a stock OpenSSH sshd (`HostCertificate`), verifies the key
 * exchange with the certified key, and hands the whole certificate to
 * hostVerifier.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import type { KeyObject } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import ssh2 from "ssh2";
import { type Sshd, startSshd } from "../../../test/harness/sshd.ts";
import { systemClock } from "../../api/clock.ts";
import {
  formatCertificateLine,
  generateEcdsaP256,
  generateEd25519,
  generateKeySet,
  type SshCertificate,
  signHostCertificate,
  signUserCertificate,
  trustedUserCaKeysLine,
  writeOpenSshPrivateKey,
} from "../crypto/index.ts";
import { certificateKey } from "./certkey.ts";
import { HOST_KEY_ALGORITHMS, isHostKeyRefused } from "./hostcert.ts";
import { loginWithCertificate } from "./login.ts";

const hostCa = generateEd25519();
const userCa = generateEd25519();

function hostCertFor(key: KeyObject, ca = hostCa): SshCertificate {
  return signHostCertificate({
    publicKey: key,
    caKey: ca.privateKey,
    hostId: "node-1",
    clusterName: "t",
    principals: ["web-1"],
    role: "node",
    ttlMs: 3600_000,
    clock: systemClock,
  });
}

function userCert(): ssh2.ParsedKey {
  const ks = generateKeySet();
  const cert = signUserCertificate({
    publicKey: ks.ssh.publicKey,
    caKey: userCa.privateKey,
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
  return certificateKey(ks.ssh.privateKey, formatCertificateLine(cert));
}

/** A patched ssh2 server presenting `hostKey` (with its certificate when given); accepts any login. */
async function ssh2Server(hostKey: ssh2.ParsedKey): Promise<{ port: number; close(): void }> {
  const server = new ssh2.Server({ hostKeys: [{ key: hostKey }] as unknown as ssh2.ServerConfig["hostKeys"] }, (conn) => {
    conn.on("authentication", (ctx) => ctx.accept());
    conn.on("error", () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { port: (server.address() as net.AddressInfo).port, close: () => server.close() };
}

/** Connects with host certificates first; resolves with what the verifier saw and whether the handshake completed. */
function handshake(port: number, verify: (key: Buffer) => boolean = () => true): Promise<{ seen: Buffer[]; error?: Error & { level?: string } }> {
  return new Promise((resolve) => {
    const seen: Buffer[] = [];
    const c = new ssh2.Client();
    c.once("ready", () => {
      c.end();
      resolve({ seen });
    });
    c.once("error", (error: Error & { level?: string }) => resolve({ seen, error }));
    c.connect({
      host: "127.0.0.1",
      port,
      username: "x",
      algorithms: { serverHostKey: [...HOST_KEY_ALGORITHMS] as ssh2.ServerHostKeyAlgorithm[] },
      hostVerifier: (key: Buffer) => {
        seen.push(Buffer.from(key));
        return verify(key);
      },
      readyTimeout: 10_000,
    });
  });
}

function sshdKey(key: KeyObject): ssh2.ParsedKey {
  const parsed = ssh2.utils.parseKey(writeOpenSshPrivateKey(key));
  const k = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!k || k instanceof Error) throw new Error("unparsable key");
  return k;
}

describe("ssh2 client ↔ patched ssh2 server", () => {
  for (const [name, gen] of [
    ["ssh-ed25519", generateEd25519],
    ["ecdsa-sha2-nistp256", generateEcdsaP256],
  ] as const) {
    test(`negotiates ${name}-cert-v01@openssh.com and hands the certificate to hostVerifier`, async () => {
      const k = gen();
      const cert = hostCertFor(k.publicKey);
      const srv = await ssh2Server(certificateKey(k.privateKey, formatCertificateLine(cert)));
      try {
        const r = await handshake(srv.port);
        assert.equal(r.error, undefined, r.error?.message);
        assert.equal(r.seen.length, 1);
        assert.deepEqual(r.seen[0], cert.blob);
      } finally {
        srv.close();
      }
    });
  }

  test("the exchange is verified with the certified key: a certificate for another key fails the handshake", async () => {
    const real = generateEd25519();
    const claimed = generateEd25519();
    const srv = await ssh2Server(certificateKey(real.privateKey, formatCertificateLine(hostCertFor(claimed.publicKey))));
    try {
      const r = await handshake(srv.port);
      assert.equal(r.error?.level, "handshake");
      assert.match(r.error?.message ?? "", /signature verification failed/);
    } finally {
      srv.close();
    }
  });

  test("a plain host key is still negotiated (after the certificates), so the verifier can refuse it by name", async () => {
    const k = generateEd25519();
    const srv = await ssh2Server(sshdKey(k.privateKey));
    try {
      const r = await handshake(srv.port, () => false);
      assert.equal(r.seen.length, 1);
      assert.equal(r.seen[0]?.subarray(4, 15).toString(), "ssh-ed25519");
      assert.match(r.error?.message ?? "", /Host denied/);
    } finally {
      srv.close();
    }
  });
});

describe("ssh2 client ↔ stock OpenSSH sshd with HostCertificate", () => {
  const dir = mkdtempSync(join(tmpdir(), "jg-hostcert-"));
  const certs: Record<string, SshCertificate> = {};
  let sshd: Sshd;
  let plainSshd: Sshd;
  before(async () => {
    writeFileSync(join(dir, "user_ca.pub"), `${trustedUserCaKeysLine(userCa.publicKey)}\n`);
    const lines: string[] = [];
    for (const [name, k] of [
      ["ed", generateEd25519()],
      ["ec", generateEcdsaP256()],
    ] as const) {
      writeFileSync(join(dir, name), writeOpenSshPrivateKey(k.privateKey), { mode: 0o600 });
      certs[name] = hostCertFor(k.publicKey);
      writeFileSync(join(dir, `${name}-cert.pub`), `${formatCertificateLine(certs[name])}\n`);
      lines.push(`HostKey ${join(dir, name)}`, `HostCertificate ${join(dir, `${name}-cert.pub`)}`);
    }
    const common = [`TrustedUserCAKeys ${join(dir, "user_ca.pub")}`, "AuthorizedKeysFile none", "PermitRootLogin prohibit-password"];
    sshd = await startSshd(dir, [...lines, ...common]);
    const plainDir = join(dir, "plain");
    execFileSync("mkdir", ["-p", plainDir]);
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(plainDir, "hk")]);
    plainSshd = await startSshd(plainDir, [`HostKey ${join(plainDir, "hk")}`, ...common]);
  });
  after(async () => {
    await sshd?.stop();
    await plainSshd?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("negotiates ssh-ed25519-cert-v01@openssh.com first and logs in", async () => {
    const sock = net.connect(sshd.port, "127.0.0.1");
    let seen: Buffer | undefined;
    const host = {
      trustedCaKeys: [hostCa.publicKey],
      principals: ["web-1"],
      clock: { now: () => new Date() },
    };
    const c = await loginWithCertificate(sock, "root", userCert(), {
      host: () => host,
    });
    const out = await new Promise<string>((resolve, reject) =>
      c.exec("echo verified-host", (err, stream) => {
        if (err) return reject(err);
        let text = "";
        stream.on("data", (d: Buffer) => (text += d.toString()));
        stream.on("close", () => resolve(text.trim()));
      }),
    );
    c.end();
    assert.equal(out, "verified-host");
    // And the raw handshake shows the verifier gets the very certificate sshd was given.
    const r = await handshake(sshd.port, (k) => {
      seen = k;
      return true;
    });
    assert.match(r.error?.message ?? "", /authentication/i);
    assert.deepEqual(seen, certs.ed?.blob);
  });

  test("negotiates ecdsa-sha2-nistp256-cert-v01@openssh.com when asked for it alone", async () => {
    const seen = await new Promise<Buffer | undefined>((resolve, reject) => {
      let key: Buffer | undefined;
      const c = new ssh2.Client();
      // Failing authentication means the key exchange (and its signature check) passed.
      c.once("error", (e: Error & { level?: string }) => (e.level === "client-authentication" ? resolve(key) : reject(e)));
      c.connect({
        host: "127.0.0.1",
        port: sshd.port,
        username: "root",
        algorithms: { serverHostKey: ["ecdsa-sha2-nistp256-cert-v01@openssh.com"] as unknown as ssh2.ServerHostKeyAlgorithm[] },
        hostVerifier: (k: Buffer) => {
          key = Buffer.from(k);
          return true;
        },
        authHandler: (_methods, _partial, cb) => cb(false as unknown as ssh2.AuthenticationType),
      });
    });
    assert.deepEqual(seen, certs.ec?.blob);
  });

  test("a certificate from another CA is refused with the reason", async () => {
    const sock = net.connect(sshd.port, "127.0.0.1");
    const other = generateEd25519();
    await assert.rejects(
      loginWithCertificate(sock, "root", userCert(), { host: { trustedCaKeys: [other.publicKey], principals: ["web-1"], clock: systemClock } }),
      (e: unknown) => isHostKeyRefused(e) && /not signed by this cluster's host CA/.test((e as Error).message),
    );
  });

  test("an sshd without a host certificate is refused: a plain host key", async () => {
    const sock = net.connect(plainSshd.port, "127.0.0.1");
    await assert.rejects(
      loginWithCertificate(sock, "root", userCert(), { host: { trustedCaKeys: [hostCa.publicKey], principals: ["web-1"], clock: systemClock } }),
      (e: unknown) => isHostKeyRefused(e) && /plain host key/.test((e as Error).message),
    );
  });
});
