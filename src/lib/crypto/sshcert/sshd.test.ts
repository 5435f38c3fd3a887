/**
 * Real OpenSSH: sshd trusts our user CA and presents our host certificate; the ssh
 * client logs in with our private key file and certificate, and trusts our host CA.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { FakeClock, systemClock } from "../../../api/clock.ts";
import { generateEcdsaP256, generateEd25519, type KeyPair, sshPublicKeyLine } from "../keys.ts";
import { writeOpenSshPrivateKey } from "../openssh-key.ts";
import { runAsync, type Sshd, startSshd, tempDir, writeSecret } from "../test-helpers.ts";
import { formatCertificateLine } from "./codec.ts";
import { knownHostsCaLine, trustedUserCaKeysLine } from "./lines.ts";
import { signHostCertificate, signUserCertificate, type UserCertificateRequest } from "./sign.ts";

const tmp = tempDir();
const userCa = generateEd25519();
const userCaEc = generateEcdsaP256();
const hostCa = generateEd25519();
const hostKey = generateEd25519();
const hostId = "3f2b9a1c-7d4e-4f60-8a2b-1c9d0e7f6a5b";
const cluster = "example";
let sshd: Sshd;
let n = 0;

before(async () => {
  const hostKeyFile = join(tmp.dir, "host_key");
  writeSecret(hostKeyFile, writeOpenSshPrivateKey(hostKey.privateKey, "host"));
  const hostCert = signHostCertificate({
    publicKey: hostKey.publicKey,
    caKey: hostCa.privateKey,
    hostId,
    clusterName: cluster,
    principals: ["localhost", "127.0.0.1"],
    role: "node",
    ttlMs: 3600_000,
    clock: systemClock,
  });
  writeFileSync(`${hostKeyFile}-cert.pub`, `${formatCertificateLine(hostCert)}\n`);
  writeFileSync(join(tmp.dir, "ca.pub"), `${trustedUserCaKeysLine(userCa.publicKey, "jumpgate user CA")}\n${trustedUserCaKeysLine(userCaEc.publicKey)}\n`);
  sshd = await startSshd(tmp.dir, [
    `HostKey ${hostKeyFile}`,
    `HostCertificate ${hostKeyFile}-cert.pub`,
    `TrustedUserCAKeys ${join(tmp.dir, "ca.pub")}`,
    "AuthorizedKeysFile none",
    "PermitRootLogin prohibit-password",
    "PasswordAuthentication no",
    "KbdInteractiveAuthentication no",
  ]);
});

after(async () => {
  if (process.env.SHOW_SSHD_LOG) console.log(sshd?.log());
  await sshd?.stop();
  tmp.cleanup();
});

/** Writes key + cert files and runs `ssh ... root@127.0.0.1 echo ok`. */
async function login(over: Partial<UserCertificateRequest> = {}, key: KeyPair = generateEd25519(), extraSsh: string[] = []) {
  const base = join(tmp.dir, `id${n++}`);
  writeSecret(base, writeOpenSshPrivateKey(key.privateKey, "test"));
  const cert = signUserCertificate({
    publicKey: key.publicKey,
    caKey: userCa.privateKey,
    keyId: "alice",
    principals: ["root"],
    ttlMs: 600_000,
    clock: systemClock,
    permitPty: true,
    permitPortForwarding: false,
    permitAgentForwarding: false,
    permitX11Forwarding: false,
    roles: ["access"],
    traits: { logins: ["root"] },
    routeToCluster: cluster,
    activeRequests: [],
    ...over,
  });
  writeFileSync(`${base}-cert.pub`, `${formatCertificateLine(cert)}\n`);
  const logBefore = sshd.log().length;
  const hostChecks = extraSsh.length > 0 ? extraSsh : ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"];
  const r = await runAsync("ssh", [
    "-F",
    "none",
    "-o",
    "BatchMode=yes",
    "-o",
    "IdentitiesOnly=yes",
    "-o",
    "ConnectTimeout=10",
    "-o",
    "LogLevel=ERROR",
    ...hostChecks,
    "-i",
    base,
    "-o",
    `CertificateFile=${base}-cert.pub`,
    "-p",
    String(sshd.port),
    "root@127.0.0.1",
    "echo",
    "ok",
  ]);
  await new Promise((resolve) => setTimeout(resolve, 50)); // let sshd's log catch up
  return { ...r, sshdLog: sshd.log().slice(logBefore) };
}

const ok = (r: { status: number | null; stdout: string; stderr: string }) =>
  assert.equal(r.status, 0, `ssh failed: ${r.stderr}\n--- sshd log ---\n${sshd.log().slice(-2000)}`);
/** The login failed, and sshd's log (or ssh's error output) says why. */
const refused = (r: { status: number | null; stdout: string; stderr: string; sshdLog: string }, why: RegExp) => {
  assert.notEqual(r.status, 0);
  assert.equal(r.stdout.trim(), "");
  assert.match(`${r.sshdLog}\n${r.stderr}`, why);
};

describe("sshd accepts our certificates", { timeout: 60_000 }, () => {
  it("logs in with an Ed25519 user certificate", async () => {
    const r = await login();
    ok(r);
    assert.equal(r.stdout.trim(), "ok");
    assert.match(sshd.log(), /Accepted publickey for root from 127\.0\.0\.1 .* ED25519-CERT SHA256:\S+ ID alice \(serial \d+\) CA ED25519/);
  });

  it("logs in with an ECDSA key signed by an ECDSA CA, pinned to 127.0.0.1", async () => {
    ok(await login({ caKey: userCaEc.privateKey, sourceAddress: "127.0.0.1/32,10.0.0.0/8" }, generateEcdsaP256()));
  });

  it("refuses a certificate pinned to other addresses", async () => {
    refused(await login({ sourceAddress: "10.0.0.0/8" }), /not from a permitted source address/);
  });

  it("refuses a certificate whose principals exclude root", async () => {
    refused(await login({ principals: ["alice", "bob"] }), /name is not a listed principal/);
  });

  it("refuses an expired certificate", async () => {
    refused(await login({ clock: new FakeClock(new Date(Date.now() - 2 * 3600_000)), ttlMs: 3600_000 }), /Certificate invalid: expired/);
  });

  it("refuses a certificate from another CA", async () => {
    const r = await login({ caKey: generateEd25519().privateKey });
    refused(r, /Failed publickey for root .* ID alice/);
    assert.doesNotMatch(r.sshdLog, /Accepted certificate/);
  });

  it("ssh trusts our host certificate through a known_hosts @cert-authority line", async () => {
    const knownHosts = join(tmp.dir, "known_hosts");
    writeFileSync(knownHosts, `${knownHostsCaLine(hostCa.publicKey, cluster)}\n`);
    const strict = ["-o", "StrictHostKeyChecking=yes", "-o", `UserKnownHostsFile=${knownHosts}`, "-o", `HostKeyAlias=${hostId}.${cluster}`];
    const r = await login({}, generateEd25519(), strict);
    ok(r);
    assert.equal(r.stdout.trim(), "ok");

    const otherCa = join(tmp.dir, "known_hosts_other");
    writeFileSync(otherCa, `${knownHostsCaLine(generateEd25519().publicKey, cluster)}\n`);
    refused(
      await login({}, generateEd25519(), ["-o", "StrictHostKeyChecking=yes", "-o", `UserKnownHostsFile=${otherCa}`, "-o", `HostKeyAlias=${hostId}.${cluster}`]),
      /Host key verification failed/,
    );

    // a plain host key line for a different key must not be accepted either
    const wrongKey = join(tmp.dir, "known_hosts_wrong");
    writeFileSync(wrongKey, `${hostId}.${cluster} ${sshPublicKeyLine(generateEd25519().publicKey)}\n`);
    refused(
      await login({}, generateEd25519(), [
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        `UserKnownHostsFile=${wrongKey}`,
        "-o",
        `HostKeyAlias=${hostId}.${cluster}`,
      ]),
      /Host key verification failed/,
    );
  });
});
