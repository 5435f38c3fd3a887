import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { FakeClock } from "../../api/clock.ts";
import { generateEcdsaP256, generateEd25519, signCertificate, signHostCertificate, signUserCertificate, sshPublicKeyBlob } from "../crypto/index.ts";
import { checkHostCertificate, expectedNodePrincipals, type HostKeyRefused, hostCertificateVerifier, isHostKeyRefused } from "./hostcert.ts";

const clock = new FakeClock(new Date("2026-03-01T12:00:00Z"));
const hostCa = generateEd25519();
const otherCa = generateEd25519();
const userCa = generateEd25519();
const HOST_ID = "5d0e8c1a-4a7e-4a55-9f0e-2f1f3a0c9b11";

function hostCert(o: { ca?: typeof hostCa; ttlMs?: number; principals?: string[]; key?: ReturnType<typeof generateEd25519> } = {}) {
  return signHostCertificate({
    publicKey: (o.key ?? generateEd25519()).publicKey,
    caKey: (o.ca ?? hostCa).privateKey,
    hostId: HOST_ID,
    clusterName: "example",
    principals: o.principals ?? ["web-1", "web-1.example"],
    role: "node",
    ttlMs: o.ttlMs ?? 3600_000,
    clock,
  });
}

const check = (principals: string[]) => ({ trustedCaKeys: [otherCa.publicKey, hostCa.publicKey], principals, clock });

function refusal(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    assert.ok(isHostKeyRefused(e), `expected HostKeyRefused, got ${String(e)}`);
    assert.equal((e as HostKeyRefused).exitCode, 255);
    assert.equal((e as HostKeyRefused).kind, "access-denied");
    return (e as Error).message;
  }
  assert.fail("the host key was accepted");
}

describe("checkHostCertificate", () => {
  test("accepts a host certificate of a trusted CA listing the name, the UUID or NAME.CLUSTER", () => {
    const c = hostCert();
    for (const name of ["web-1", HOST_ID, "web-1.example", `${HOST_ID}.example`]) {
      assert.equal(checkHostCertificate(c.blob, check([name])).keyId, HOST_ID);
    }
  });

  test("accepts an ECDSA P-256 host key's certificate too", () => {
    const k = generateEcdsaP256();
    const c = signHostCertificate({
      publicKey: k.publicKey,
      caKey: hostCa.privateKey,
      hostId: HOST_ID,
      clusterName: "example",
      principals: ["db"],
      role: "node",
      ttlMs: 60_000,
      clock,
    });
    assert.equal(c.algorithm, "ecdsa-sha2-nistp256-cert-v01@openssh.com");
    assert.equal(checkHostCertificate(c.blob, check(["db"])).keyId, HOST_ID);
  });

  test("refuses a certificate from another cluster's host CA", () => {
    const msg = refusal(() => checkHostCertificate(hostCert({ ca: generateEd25519() }).blob, check(["web-1"])));
    assert.equal(msg, "the node's host certificate is not signed by this cluster's host CA");
  });

  test("refuses when no CA is trusted at all", () => {
    const msg = refusal(() => checkHostCertificate(hostCert().blob, { trustedCaKeys: [], principals: ["web-1"], clock }));
    assert.match(msg, /not signed by this cluster's host CA/);
  });

  test("refuses a user certificate presented as a host key", () => {
    const u = signUserCertificate({
      publicKey: generateEd25519().publicKey,
      caKey: hostCa.privateKey,
      keyId: "mallory",
      principals: ["web-1"],
      ttlMs: 3600_000,
      clock,
      permitPty: true,
      permitPortForwarding: false,
      permitAgentForwarding: false,
      permitX11Forwarding: false,
      roles: [],
      traits: {},
      routeToCluster: "example",
      activeRequests: [],
    });
    assert.equal(
      refusal(() => checkHostCertificate(u.blob, check(["web-1"]))),
      "the node presented a user certificate, not a host certificate",
    );
  });

  test("refuses a user CA's signature even on a host certificate (the host CA is what is trusted)", () => {
    const msg = refusal(() => checkHostCertificate(hostCert({ ca: userCa }).blob, check(["web-1"])));
    assert.match(msg, /not signed by this cluster's host CA/);
  });

  test("refuses a certificate for another node", () => {
    const msg = refusal(() => checkHostCertificate(hostCert().blob, check(["db-2", "db-2"])));
    assert.equal(msg, `the node's host certificate is for "${HOST_ID}", "${HOST_ID}.example", "web-1", "web-1.example", not "db-2"`);
  });

  test("refuses an expired certificate", () => {
    const c = hostCert({ ttlMs: 60_000 });
    const later = new FakeClock(new Date(clock.now().getTime() + 61_000));
    const msg = refusal(() => checkHostCertificate(c.blob, { ...check(["web-1"]), clock: later }));
    assert.equal(msg, `the node's host certificate expired at ${c.validBefore.toISOString()}`);
  });

  test("refuses a certificate not valid yet", () => {
    const c = hostCert();
    const earlier = new FakeClock(new Date(c.validAfter.getTime() - 1000));
    const msg = refusal(() => checkHostCertificate(c.blob, { ...check(["web-1"]), clock: earlier }));
    assert.equal(msg, `the node's host certificate is not valid before ${c.validAfter.toISOString()}`);
  });

  test("refuses a plain host key", () => {
    const msg = refusal(() => checkHostCertificate(sshPublicKeyBlob(generateEd25519().publicKey), check(["web-1"])));
    assert.equal(msg, "the node presented a plain host key, not a host certificate from this cluster's host CA");
  });

  test("refuses a tampered certificate (the CA signature no longer covers it)", () => {
    const blob = Buffer.from(hostCert().blob);
    const at = blob.indexOf(Buffer.from("web-1"));
    blob.write("evil!", at, "latin1");
    const msg = refusal(() => checkHostCertificate(blob, check(["evil!"])));
    assert.match(msg, /invalid CA signature/);
  });

  test("refuses garbage", () => {
    const blob = Buffer.concat([Buffer.from([0, 0, 0, 32]), Buffer.from("ssh-ed25519-cert-v01@openssh.com"), Buffer.from([1, 2])]);
    assert.match(
      refusal(() => checkHostCertificate(blob, check(["web-1"]))),
      /malformed/,
    );
  });

  test("refuses a host certificate with critical options", () => {
    const body = hostCert();
    const c = signCertificate({ ...body, criticalOptions: new Map([["force-command", "true"]]) }, hostCa.privateKey);
    assert.match(
      refusal(() => checkHostCertificate(c.blob, check(["web-1"]))),
      /critical options \(force-command\)/,
    );
  });
});

test("hostCertificateVerifier answers ssh2 and keeps the reason of a refusal", () => {
  const v = hostCertificateVerifier(() => check(["web-1"]));
  assert.equal(v.hostVerifier(hostCert().blob), true);
  assert.equal(v.certificate()?.keyId, HOST_ID);
  assert.equal(v.refusal(), undefined);
  assert.equal(v.hostVerifier(hostCert({ ca: otherCa, principals: ["db"] }).blob), false);
  assert.match(v.refusal()?.message ?? "", /is for .*, not "web-1"/);
});

test("expectedNodePrincipals: as typed, and without the cluster suffix the proxy also strips", () => {
  assert.deepEqual(expectedNodePrincipals("web-1", "example"), ["web-1"]);
  assert.deepEqual(expectedNodePrincipals("web-1.example", "example"), ["web-1.example", "web-1"]);
  assert.deepEqual(expectedNodePrincipals("web-1.EXAMPLE", "example"), ["web-1.EXAMPLE", "web-1"]);
  assert.deepEqual(expectedNodePrincipals("example", "example"), ["example"]);
  assert.deepEqual(expectedNodePrincipals("web-1.example", ""), ["web-1.example"]);
});
