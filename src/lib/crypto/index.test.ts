import assert from "node:assert/strict";
import { it } from "node:test";
import * as surface from "./index.ts";

it("exports the public surface other modules rely on", () => {
  const names = [
    "generateEd25519",
    "generateEcdsaP256",
    "sshPublicKeyBlob",
    "sshPublicKeyLine",
    "parseSshPublicKey",
    "sshFingerprint",
    "writeOpenSshPrivateKey",
    "parseOpenSshPrivateKey",
    "privateKeyToPem",
    "privateKeyFromPem",
    "publicKeyToPem",
    "publicKeyFromPem",
    "parseCertificate",
    "formatCertificateLine",
    "signUserCertificate",
    "signHostCertificate",
    "verifyCertificate",
    "verifySshSignature",
    "signSshData",
    "knownHostsCaLine",
    "trustedUserCaKeysLine",
    "readUserCertExtensions",
    "readHostCertExtensions",
    "createCa",
    "issueClientCertificate",
    "issueServerCertificate",
    "encodeIdentity",
    "decodeIdentity",
    "verifyChain",
    "certFingerprint",
  ];
  for (const n of names) assert.equal(typeof (surface as Record<string, unknown>)[n], "function", n);
  assert.equal(surface.IDENTITY_OID, "1.3.6.1.4.1.59999.1.1");
});
