/**
 * issue.ts writes certificates in DER by hand; this pins its output to what
 * `@peculiar/x509` (which it replaced on the hot path) produces for the same
 * input: byte-identical to-be-signed parts, a signature that verifies, and the
 * same PEM layout.
 */
import assert from "node:assert/strict";
import crypto, { type KeyObject } from "node:crypto";
import net from "node:net";
import { describe, it } from "node:test";
import { FakeClock } from "../../../api/clock.ts";
import { isJumpgateError } from "../../../api/errors.ts";
import { generateEcdsaP256, generateEd25519 } from "../keys.ts";
import { createCa, X509_BACKDATE_MS } from "./ca.ts";
import * as der from "./der.ts";
import { encodeIdentity, type Identity } from "./identity.ts";
import { issueClientCertificate, issueServerCertificate } from "./issue.ts";
import { spki, toName, toSigningKey, toX509, x509 } from "./provider.ts";

const clock = new FakeClock(new Date("2026-03-01T12:00:00.250Z"));

const user: Identity = {
  kind: "user",
  username: "alice@example.com",
  roles: ["access", "editor", "ünïcødé", ' #a,b=c+d"<>;\\ '],
  logins: ["root", "alice"],
  traits: { logins: ["root", "alice"], groups: ["dev"] },
  routeToCluster: "example",
  kubernetesGroups: [],
  kubernetesUsers: [],
  activeRequests: [],
  mfaVerified: true,
  expires: new Date(0),
  systemRoles: [],
  clusterName: "example",
};

/** The pre-DER implementation, kept as the reference: `@peculiar/x509` all the way. */
async function reference(
  req: { caCert: string; caKey: KeyObject; publicKey: KeyObject; ttlMs: number },
  serialNumber: string,
  subject: Array<Record<string, string[]>>,
  identity: Identity | undefined,
  usages: x509.ExtendedKeyUsage[],
  sans: Array<{ type: "dns" | "ip"; value: string }>,
): Promise<x509.X509Certificate> {
  const ca = toX509(req.caCert);
  const signer = await toSigningKey(req.caKey);
  const caPub = crypto.createPublicKey(req.caKey).export({ format: "der", type: "spki" });
  const now = clock.now().getTime();
  const notAfter = new Date(now + req.ttlMs);
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension(usages, false),
    await x509.SubjectKeyIdentifierExtension.create(spki(req.publicKey)),
  ];
  const caSki = ca.getExtension(x509.SubjectKeyIdentifierExtension);
  extensions.push(caSki ? new x509.AuthorityKeyIdentifierExtension(caSki.keyId) : await x509.AuthorityKeyIdentifierExtension.create(new Uint8Array(caPub)));
  if (sans.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(sans, false));
  if (identity) {
    const enc = encodeIdentity({ ...identity, expires: notAfter });
    extensions.push(new x509.Extension(enc.extension.oid, enc.extension.critical, new Uint8Array(enc.extension.value)));
    subject = enc.subject;
  }
  return x509.X509CertificateGenerator.create({
    serialNumber,
    subject: toName(subject),
    issuer: ca.subjectName,
    notBefore: new Date(now - X509_BACKDATE_MS),
    notAfter,
    signingAlgorithm: signer.algorithm,
    publicKey: spki(req.publicKey),
    signingKey: signer.key,
    extensions,
  });
}

/** The hex of a certificate's tbsCertificate, signatureAlgorithm and signatureValue. */
function parts(cert: Buffer): string[] {
  return der.children(cert, der.readTlv(cert, 0)).map((t) => der.whole(cert, t).toString("hex"));
}

function same(mine: string, ref: x509.X509Certificate, caPub: KeyObject): void {
  const [tbs, alg] = parts(Buffer.from(toX509(mine).rawData));
  const [refTbs, refAlg] = parts(Buffer.from(ref.rawData));
  assert.equal(tbs, refTbs);
  assert.equal(alg, refAlg);
  assert.ok(new crypto.X509Certificate(mine).verify(caPub));
  // PEM layout: 64-column base64, no trailing newline.
  const refPem = ref.toString("pem");
  const body = mine.split("\n").slice(1, -1);
  assert.ok(body.slice(0, -1).every((l) => l.length === 64) && (body.at(-1)?.length ?? 0) <= 64);
  assert.match(mine, /^-----BEGIN CERTIFICATE-----\n[A-Za-z0-9+/=\n]+\n-----END CERTIFICATE-----$/);
  assert.equal(mine.slice(0, 28), refPem.slice(0, 28));
  assert.equal(mine.endsWith("\n"), refPem.endsWith("\n"));
}

describe("hand-written DER matches @peculiar/x509", async () => {
  const ecCa = await createCa({ commonName: "example", organization: "example user CA", clock });
  const edCa = await createCa({ commonName: "ed", organization: "ed CA", clock, privateKey: generateEd25519().privateKey });

  for (const [caName, ca] of [
    ["ECDSA P-256 CA", ecCa],
    ["Ed25519 CA", edCa],
  ] as const) {
    for (const [keyName, key] of [
      ["P-256 key", generateEcdsaP256().publicKey],
      ["Ed25519 key", generateEd25519().publicKey],
    ] as const) {
      it(`client certificate: ${caName}, ${keyName}`, async () => {
        const req = { caCert: ca.certPem, caKey: ca.privateKey, publicKey: key, ttlMs: 12 * 3600_000, clock };
        const pem = await issueClientCertificate({ ...req, identity: user });
        const ref = await reference(req, toX509(pem).serialNumber, [], user, [x509.ExtendedKeyUsage.clientAuth], []);
        same(pem, ref, ca.publicKey);
      });
    }
  }

  it("server certificate with DNS and IP SANs (v4, v6, embedded v4), with and without an identity", async () => {
    const ips = ["127.0.0.1", "::1", "2001:db8::8a2e:370:7334", "fe80::", "::", "1:2:3:4:5:6:7:8", "10.0.0.255"];
    const dns = ["localhost", "web-1", "h.example.com"];
    const req = { caCert: ecCa.certPem, caKey: ecCa.privateKey, publicKey: generateEcdsaP256().publicKey, ttlMs: 24 * 3600_000, clock };
    const sans = [...dns.map((value) => ({ type: "dns" as const, value })), ...ips.map((value) => ({ type: "ip" as const, value }))];
    const usages = [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth];
    const plain = await issueServerCertificate({ ...req, commonName: "web-1", dnsNames: dns, ipAddresses: ips });
    same(plain, await reference(req, toX509(plain).serialNumber, [{ CN: ["web-1"] }], undefined, usages, sans), ecCa.publicKey);
    const hostId = "0c1d2e3f-4a5b-6c7d-8e9f-a0b1c2d3e4f5";
    const host: Identity = { ...user, kind: "host", username: hostId, hostId, nodeName: "web-1", roles: [], logins: [], systemRoles: ["node", "proxy"] };
    const withId = await issueServerCertificate({ ...req, commonName: hostId, dnsNames: dns, ipAddresses: [], identity: host });
    same(
      withId,
      await reference(
        req,
        toX509(withId).serialNumber,
        [],
        host,
        usages,
        dns.map((value) => ({ type: "dns" as const, value })),
      ),
      ecCa.publicKey,
    );
    // Embedded IPv4 in IPv6 (the old library could not write these at all).
    const mapped = await issueServerCertificate({ ...req, commonName: "m", dnsNames: [], ipAddresses: ["::ffff:192.0.2.1", "64:ff9b::10.1.2.3"] });
    assert.match(new crypto.X509Certificate(mapped).subjectAltName ?? "", /IP Address:0:0:0:0:0:FFFF:C000:201, IP Address:64:FF9B:0:0:0:0:A01:203/);
  });

  it("validity across 2050 switches to GeneralizedTime, and long subjects use long-form lengths", async () => {
    const far = new FakeClock(new Date("2049-12-31T12:00:00Z"));
    const big: Identity = { ...user, roles: Array.from({ length: 300 }, (_, i) => `role-${i}`) };
    const req = { caCert: ecCa.certPem, caKey: ecCa.privateKey, publicKey: generateEcdsaP256().publicKey, ttlMs: 48 * 3600_000, clock: far };
    const pem = await issueClientCertificate({ ...req, identity: big });
    const c = new crypto.X509Certificate(pem);
    assert.equal(new Date(c.validTo).toISOString(), "2050-01-02T12:00:00.000Z");
    assert.equal(new Date(c.validFrom).toISOString(), "2049-12-31T11:59:00.000Z");
    assert.ok(c.verify(ecCa.publicKey));
    assert.equal(toX509(pem).subjectName.getField("O").length, 300);
  });

  it("refuses IP addresses that are not addresses", async () => {
    const req = { caCert: ecCa.certPem, caKey: ecCa.privateKey, publicKey: generateEcdsaP256().publicKey, ttlMs: 1000, clock, commonName: "x", dnsNames: [] };
    for (const ip of ["fe80::1%eth0", "1.2.3", "::g"]) {
      await assert.rejects(
        async () => issueServerCertificate({ ...req, ipAddresses: [ip] }),
        (e) => isJumpgateError(e, "bad-parameter"),
        ip,
      );
    }
    assert.ok(net.isIPv6("fe80::1%eth0"));
  });
});

describe("DER helpers", () => {
  it("encode integers, object identifiers, lengths and times", () => {
    assert.equal(der.unsignedInteger(Buffer.from([0x00, 0x00, 0x7f])).toString("hex"), "02017f");
    assert.equal(der.unsignedInteger(Buffer.from([0x80])).toString("hex"), "02020080");
    assert.equal(der.unsignedInteger(Buffer.alloc(0)).toString("hex"), "020100");
    assert.equal(der.oid("1.2.840.10045.4.3.2").toString("hex"), "06082a8648ce3d040302");
    assert.equal(der.oid("1.3.6.1.4.1.59999.1.1").toString("hex"), "060a2b0601040183d45f0101");
    assert.equal(der.oid("2.999.3").toString("hex"), "0603883703");
    assert.throws(
      () => der.oid("1.40"),
      (e) => isJumpgateError(e, "bad-parameter"),
    );
    assert.equal(der.tlv(0x04, Buffer.alloc(200)).subarray(0, 3).toString("hex"), "0481c8");
    assert.equal(der.tlv(0x04, Buffer.alloc(300)).subarray(0, 4).toString("hex"), "0482012c");
    assert.equal(der.time(new Date("2026-03-01T12:00:00.999Z")).toString("latin1").slice(2), "260301120000Z");
    assert.equal(der.time(new Date("2050-01-01T00:00:00Z")).toString("latin1").slice(2), "20500101000000Z");
    assert.equal(der.time(new Date("1950-01-01T00:00:00Z"))[0], 0x17);
    assert.equal(der.time(new Date("1949-12-31T23:59:59Z"))[0], 0x18);
  });

  it("reads back what it writes and refuses truncated input", () => {
    const v = der.seq(der.utf8String("a"), der.octetString(Buffer.alloc(130)));
    const top = der.readTlv(v, 0);
    const [a, b] = der.children(v, top);
    assert.equal(top.end, v.length);
    assert.equal(a?.tag, 0x0c);
    assert.equal(b && der.contents(v, b).length, 130);
    for (let n = 0; n < v.length; n++)
      assert.throws(
        () => der.children(v.subarray(0, n), der.readTlv(v.subarray(0, n), 0)),
        (e) => isJumpgateError(e, "bad-parameter"),
      );
  });
});
