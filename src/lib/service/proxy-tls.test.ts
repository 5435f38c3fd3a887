import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { systemClock } from "../../api/clock.ts";
import { createCa, generateEcdsaP256, issueServerCertificate } from "../crypto/index.ts";
import { coversNames, proxyKeyPair } from "./proxy-tls.ts";

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), "jg-proxy-tls-"));
  dirs.push(d);
  return d;
};
const sans = (pem: string) => (new X509Certificate(pem).subjectAltName ?? "").split(", ");

describe("the demo proxy certificate", () => {
  test("names *.localhost and *.<each host name> for apps, not wildcards of IP addresses", async () => {
    const dir = tmp();
    const p = await proxyKeyPair(dir, [], ["Proxy.Example.com"]);
    assert.equal(p.selfSigned, true);
    const names = sans(p.cert);
    for (const n of ["DNS:localhost", "DNS:*.localhost", "DNS:proxy.example.com", "DNS:*.proxy.example.com", "IP Address:127.0.0.1"])
      assert.ok(names.includes(n), `${n} in ${names.join(", ")}`);
    const again = await proxyKeyPair(dir, [], ["proxy.example.com"]);
    assert.equal(again.cert, p.cert, "kept while it covers the names");
    const ip = await proxyKeyPair(tmp(), [], ["10.0.0.5"]);
    assert.ok(sans(ip.cert).includes("IP Address:10.0.0.5"));
    assert.ok(!sans(ip.cert).some((n) => n.includes("*.10.")));
  });

  test("an existing pair without the wildcards is made again", async () => {
    const dir = tmp();
    const ca = await createCa({ commonName: "old", organization: "Jumpgate", clock: systemClock });
    const key = generateEcdsaP256();
    const old = await issueServerCertificate({
      caCert: ca.certPem,
      caKey: ca.privateKey,
      publicKey: key.publicKey,
      commonName: "localhost",
      dnsNames: ["localhost"],
      ipAddresses: ["127.0.0.1"],
      ttlMs: 3600_000 * 24 * 30,
      clock: systemClock,
    });
    mkdirSync(join(dir, "proxy"), { recursive: true });
    writeFileSync(join(dir, "proxy", "selfsigned.crt"), old);
    writeFileSync(join(dir, "proxy", "selfsigned.key"), key.privateKey.export({ format: "pem", type: "pkcs8" }).toString());
    assert.equal(coversNames(old, ["localhost", "*.localhost"]), false);
    const p = await proxyKeyPair(dir, [], ["localhost"]);
    assert.notEqual(p.cert, old);
    assert.ok(sans(p.cert).includes("DNS:*.localhost"));
  });
});
