/** Issued certificates against real peers: `openssl verify`/`x509 -text`, and Node's TLS with mutual authentication. */
import assert from "node:assert/strict";
import crypto, { type KeyObject } from "node:crypto";
import { writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import tls from "node:tls";
import { FakeClock, systemClock } from "../../../api/clock.ts";
import { isJumpgateError } from "../../../api/errors.ts";
import { generateEcdsaP256, generateEd25519, privateKeyToPem } from "../keys.ts";
import { run, runOk, tempDir } from "../test-helpers.ts";
import { certFingerprint, createCa, verifyChain } from "./ca.ts";
import { decodeIdentity, type Identity } from "./identity.ts";
import { issueClientCertificate, issueServerCertificate } from "./issue.ts";

const tmp = tempDir();
after(tmp.cleanup);

const clock = new FakeClock(new Date(Date.now()));
const userCa = await createCa({ commonName: "example", organization: "example user CA", clock });
const hostCa = await createCa({ commonName: "example", organization: "example host CA", clock });
const foreignCa = await createCa({ commonName: "example", organization: "example user CA", clock });

function userIdentity(name: string): Identity {
  return {
    kind: "user",
    username: name,
    roles: ["access", "auditor"],
    logins: ["root", "ubuntu"],
    traits: {},
    kubernetesGroups: [],
    kubernetesUsers: [],
    activeRequests: [],
    expires: new Date(0),
    systemRoles: [],
    clusterName: "example",
  };
}

const hostId = "0c1d2e3f-4a5b-6c7d-8e9f-a0b1c2d3e4f5";
const hostIdentity: Identity = {
  ...userIdentity(hostId),
  kind: "host",
  roles: [],
  logins: [],
  systemRoles: ["node"],
  hostId,
  nodeName: "web-1",
};

interface Leaf {
  pem: string;
  key: KeyObject;
}

async function client(ca = userCa, c = clock, ttlMs = 3600_000, name = "alice"): Promise<Leaf> {
  const pair = generateEcdsaP256();
  const pem = await issueClientCertificate({
    caCert: ca.certPem,
    caKey: ca.privateKey,
    publicKey: pair.publicKey,
    identity: userIdentity(name),
    ttlMs,
    clock: c,
  });
  return { pem, key: pair.privateKey };
}

async function server(ca = hostCa): Promise<Leaf> {
  const pair = generateEcdsaP256();
  const pem = await issueServerCertificate({
    caCert: ca.certPem,
    caKey: ca.privateKey,
    publicKey: pair.publicKey,
    commonName: hostId,
    dnsNames: ["localhost", `${hostId}.example`],
    ipAddresses: ["127.0.0.1", "::1"],
    identity: hostIdentity,
    ttlMs: 3600_000,
    clock,
  });
  return { pem, key: pair.privateKey };
}

function file(name: string, text: string): string {
  const p = join(tmp.dir, name);
  writeFileSync(p, text);
  return p;
}

describe("X.509 certificates and OpenSSL", () => {
  it("openssl verifies client and server certificates and shows the identity subject", async () => {
    const caFile = file("user-ca.pem", userCa.certPem);
    const hostCaFile = file("host-ca.pem", hostCa.certPem);
    const c = await client();
    const s = await server();
    assert.match(runOk("openssl", ["verify", "-CAfile", caFile, "-purpose", "sslclient", file("client.pem", c.pem)]), /client.pem: OK/);
    assert.match(runOk("openssl", ["verify", "-CAfile", hostCaFile, "-purpose", "sslserver", file("server.pem", s.pem)]), /server.pem: OK/);
    assert.match(runOk("openssl", ["verify", "-CAfile", hostCaFile, "-purpose", "sslclient", file("server.pem", s.pem)]), /server.pem: OK/);
    const text = runOk("openssl", ["x509", "-noout", "-text", "-nameopt", "RFC2253", "-in", join(tmp.dir, "client.pem")]);
    assert.match(text, /Subject: L=ubuntu,L=root,O=auditor,O=access,CN=alice/);
    assert.match(text, /Issuer: O=example user CA,CN=example/);
    assert.match(text, /TLS Web Client Authentication/);
    assert.match(text, /1\.3\.6\.1\.4\.1\.59999\.1\.1:/);
    const stext = runOk("openssl", ["x509", "-noout", "-text", "-in", join(tmp.dir, "server.pem")]);
    assert.match(stext, /TLS Web Server Authentication, TLS Web Client Authentication/);
    assert.match(stext, /DNS:localhost, DNS:0c1d2e3f-4a5b-6c7d-8e9f-a0b1c2d3e4f5.example, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1/);
    const catext = runOk("openssl", ["x509", "-noout", "-text", "-in", caFile]);
    assert.match(catext, /CA:TRUE/);
    assert.match(catext, /Certificate Sign, CRL Sign/);
    const foreign = run("openssl", ["verify", "-CAfile", file("foreign.pem", foreignCa.certPem), join(tmp.dir, "client.pem")]);
    assert.notEqual(foreign.status, 0);
    assert.match(foreign.stderr + foreign.stdout, /unable to get local issuer certificate|certificate signature failure/);
  });

  it("verifyChain accepts the issuer, refuses strangers and expired certificates", async () => {
    const c = await client();
    verifyChain(c.pem, [hostCa.certPem, userCa.certPem], clock);
    const denied = (msg: RegExp) => (e: unknown) => isJumpgateError(e, "access-denied") && msg.test((e as Error).message);
    assert.throws(() => verifyChain(c.pem, [foreignCa.certPem, hostCa.certPem], clock), denied(/unknown authority/));
    assert.throws(() => verifyChain(c.pem, [], clock), denied(/unknown authority/));
    assert.throws(() => verifyChain(c.pem, [userCa.certPem], new FakeClock(new Date(clock.now().getTime() + 2 * 3600_000))), denied(/^certificate expired at/));
    assert.throws(() => verifyChain(c.pem, [userCa.certPem], new FakeClock(new Date(clock.now().getTime() - 120_000))), denied(/not valid before/));
    assert.throws(
      () => verifyChain("garbage", [userCa.certPem], clock),
      (e) => isJumpgateError(e, "bad-parameter"),
    );
  });

  it("fingerprints as SHA-256 hex of the DER", async () => {
    const c = await client();
    const fp = certFingerprint(c.pem);
    assert.match(fp, /^[0-9a-f]{64}$/);
    assert.equal(fp, new crypto.X509Certificate(c.pem).fingerprint256.replaceAll(":", "").toLowerCase());
  });

  it("issues from an Ed25519 CA key too, and refuses a key that does not match the CA", async () => {
    const ed = await createCa({ commonName: "ed", organization: "ed", clock, privateKey: generateEd25519().privateKey });
    const leaf = await issueClientCertificate({
      caCert: ed.certPem,
      caKey: ed.privateKey,
      publicKey: generateEcdsaP256().publicKey,
      identity: userIdentity("bob"),
      ttlMs: 60_000,
      clock,
    });
    assert.match(runOk("openssl", ["verify", "-CAfile", file("ed-ca.pem", ed.certPem), file("ed-leaf.pem", leaf)]), /OK/);
    verifyChain(leaf, [ed.certPem], clock);
    await assert.rejects(
      issueClientCertificate({
        caCert: userCa.certPem,
        caKey: hostCa.privateKey,
        publicKey: generateEcdsaP256().publicKey,
        identity: userIdentity("a"),
        ttlMs: 1000,
        clock,
      }),
      (e) => isJumpgateError(e, "bad-parameter"),
    );
    await assert.rejects(
      createCa({ commonName: "x", organization: "x", clock, privateKey: crypto.generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey }),
    );
    // an Ed25519 subject key is fine with an ECDSA CA
    const pem = await issueClientCertificate({
      caCert: userCa.certPem,
      caKey: userCa.privateKey,
      publicKey: generateEd25519().publicKey,
      identity: userIdentity("ed"),
      ttlMs: 1000,
      clock,
    });
    assert.equal(decodeIdentity(pem).username, "ed");
  });
});

interface Outcome {
  serverSawAuthorized: boolean;
  serverSawIdentity?: Identity;
  clientAuthorized: boolean;
  clientError?: string;
  serverError?: string;
}

/** One mTLS connection: the server trusts `serverTrusts`, the client presents `clientCert` and trusts the host CA. */
async function mtls(serverLeaf: Leaf, serverTrusts: string[], clientLeaf: Leaf, rejectUnauthorized = true): Promise<Outcome> {
  let serverSawAuthorized = false;
  let serverSawIdentity: Identity | undefined;
  let serverError: string | undefined;
  const srv = tls.createServer(
    { key: privateKeyToPem(serverLeaf.key), cert: serverLeaf.pem, ca: serverTrusts, requestCert: true, rejectUnauthorized },
    (sock) => {
      serverSawAuthorized = sock.authorized;
      if (sock.authorizationError) serverError = String(sock.authorizationError);
      const peer = sock.getPeerX509Certificate();
      if (peer) serverSawIdentity = decodeIdentity(peer);
      sock.end("hello");
    },
  );
  srv.on("tlsClientError", () => {});
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as AddressInfo).port;
  try {
    return await new Promise<Outcome>((resolve) => {
      const sock = tls.connect({
        host: "127.0.0.1",
        port,
        servername: "localhost",
        key: privateKeyToPem(clientLeaf.key),
        cert: clientLeaf.pem,
        ca: [hostCa.certPem],
      });
      let data = "";
      const done = (clientError?: string) => {
        const base = { serverSawAuthorized, clientAuthorized: sock.authorized };
        // the server's verdict may land a moment after the client sees the connection close
        setTimeout(() => {
          const extra = { ...(serverSawIdentity ? { serverSawIdentity } : {}), ...(serverError !== undefined ? { serverError } : {}) };
          resolve({ ...base, ...extra, ...(clientError !== undefined ? { clientError } : {}) });
        }, 20);
      };
      sock.on("data", (d: Buffer) => (data += d.toString()));
      sock.on("end", () => done(data === "hello" ? undefined : "no data"));
      sock.on("error", (e) => done(e.message));
    });
  } finally {
    srv.close();
  }
}

describe("Node TLS with mutual authentication", () => {
  it("both sides authorize certificates from the cluster's CAs, and the server reads the identity", async () => {
    const s = await server();
    const c = await (async () => {
      const pair = generateEcdsaP256();
      return {
        pem: await issueClientCertificate({
          caCert: userCa.certPem,
          caKey: userCa.privateKey,
          publicKey: pair.publicKey,
          identity: userIdentity("alice"),
          ttlMs: 3600_000,
          clock: systemClock,
        }),
        key: pair.privateKey,
      };
    })();
    const r = await mtls(s, [userCa.certPem, hostCa.certPem], c);
    assert.equal(r.clientError, undefined);
    assert.ok(r.serverSawAuthorized);
    assert.ok(r.clientAuthorized);
    assert.equal(r.serverSawIdentity?.username, "alice");
    assert.deepEqual(r.serverSawIdentity?.roles, ["access", "auditor"]);
  });

  it("a host certificate works as a client certificate too (mTLS between services)", async () => {
    const s = await server();
    const r = await mtls(s, [hostCa.certPem], await server());
    assert.equal(r.clientError, undefined);
    assert.ok(r.serverSawAuthorized);
    assert.deepEqual(r.serverSawIdentity?.systemRoles, ["node"]);
  });

  it("refuses a client certificate from a foreign CA", async () => {
    const s = await server();
    const c = await client(foreignCa);
    const r = await mtls(s, [userCa.certPem], c);
    assert.ok(r.clientError);
    assert.equal(r.serverSawAuthorized, false);
    // and why, as the server sees it when it lets the handshake finish
    const why = await mtls(s, [userCa.certPem], c, false);
    assert.match(why.serverError ?? "", /UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT/);
  });

  it("refuses an expired client certificate", async () => {
    const past = new FakeClock(new Date(Date.now() - 3 * 3600_000));
    const s = await server();
    const c = await client(userCa, past, 3600_000);
    const r = await mtls(s, [userCa.certPem], c);
    assert.ok(r.clientError);
    assert.equal(r.serverSawAuthorized, false);
    const why = await mtls(s, [userCa.certPem], c, false);
    assert.match(why.serverError ?? "", /CERT_HAS_EXPIRED|certificate has expired/i);
  });

  it("the client refuses a server certificate from a foreign CA", async () => {
    const r = await mtls(await server(foreignCa), [userCa.certPem], await client());
    assert.match(r.clientError ?? "", /certificate signature failure|unable to verify|local issuer/i);
    assert.equal(r.clientAuthorized, false);
  });
});
