import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import type net from "node:net";
import { after, before, test } from "node:test";
import tls from "node:tls";
import { type ConnInfo, Multiplexer, type RouteTls } from "./mux.ts";
import { testLog, testTls } from "./proxy.test-helpers.ts";

/** Names routed by SNI to the TLS server that asks for a client certificate (the Kubernetes route). */
let mux: Multiplexer;
let port = 0;
let pair: { cert: string; key: string; ca: string };
/** What the route with its own certificate presents now; tests swap it. */
let own: { cert: string; key: string; ca: string };
let ownTls: RouteTls;

const report = (route: string) => (s: net.Socket | tls.TLSSocket, info: ConnInfo) => {
  const peer = (s as tls.TLSSocket).getPeerCertificate?.();
  const sent = peer !== undefined && Object.keys(peer).length > 0;
  s.end(`${route} sni=${info.serverName ?? ""} alpn=${info.alpn ?? ""} cert=${sent}\n`);
};

before(async () => {
  pair = await testTls();
  mux = new Multiplexer({ tls: pair, log: testLog(), handshakeTimeoutMs: 1_000 });
  mux.handleAlpn("http/1.1", report("web"));
  mux.handleClientCertSni((n) => n === "kube.example.test", ["http/1.1"], report("kube"));
  own = await testTls();
  ownTls = { cert: own.cert, key: own.key };
  mux.handleClientCertSni((n) => n === "kube.own.test", ["http/1.1"], report("own"), { tls: () => ownTls });
  port = (await mux.listen("127.0.0.1", 0)).port;
});
after(() => mux.close());

/** The fingerprint of the certificate the server presented for `servername`, and what the handler wrote. */
function presented(servername: string): Promise<{ fingerprint: string; out: string }> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({
      host: "127.0.0.1",
      port,
      servername,
      ALPNProtocols: ["http/1.1"],
      rejectUnauthorized: false,
    });
    let out = "";
    let fingerprint = "";
    s.on("secureConnect", () => {
      fingerprint = s.getPeerX509Certificate()?.fingerprint256 ?? "";
    });
    s.on("data", (d: Buffer) => (out += d.toString()));
    s.on("end", () => resolve({ fingerprint, out: out.trim() }));
    s.on("error", reject);
  });
}

function ask(servername: string | undefined, withCert: boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({
      host: "127.0.0.1",
      port,
      ...(servername ? { servername } : {}),
      ALPNProtocols: ["h2", "http/1.1"],
      rejectUnauthorized: false,
      ...(withCert ? { cert: pair.cert, key: pair.key } : {}),
    });
    let out = "";
    s.on("data", (d: Buffer) => (out += d.toString()));
    s.on("end", () => resolve(out.trim()));
    s.on("error", reject);
  });
}

test("the Kubernetes name is asked for a client certificate and gets its own handler", async () => {
  assert.equal(await ask("kube.example.test", true), "kube sni=kube.example.test alpn=http/1.1 cert=true");
  assert.equal(await ask("kube.example.test", false), "kube sni=kube.example.test alpn=http/1.1 cert=false");
});

test("every other name (and no name) is never asked, so browsers see no certificate prompt", async () => {
  assert.equal(await ask("example.test", true), "web sni=example.test alpn=http/1.1 cert=false");
  assert.equal(await ask(undefined, true), "web sni= alpn=http/1.1 cert=false");
});

test("a route with its own certificate presents it, and a renewed one from the next connection", async () => {
  const fp = (pem: string) => new X509Certificate(pem).fingerprint256;
  const first = await presented("kube.own.test");
  assert.equal(first.fingerprint, fp(own.cert));
  assert.equal(first.out, "own sni=kube.own.test alpn=http/1.1 cert=false");
  // The public certificate still serves every other name, and the other client-certificate route.
  assert.equal((await presented("example.test")).fingerprint, fp(pair.cert));
  assert.equal((await presented("kube.example.test")).fingerprint, fp(pair.cert));
  const renewed = await testTls();
  ownTls = { cert: renewed.cert, key: renewed.key, ca: [renewed.ca] };
  assert.equal((await presented("kube.own.test")).fingerprint, fp(renewed.cert));
  // Swapping the public certificate leaves the route's own alone.
  const pub = await testTls();
  mux.setTls({ cert: pub.cert, key: pub.key });
  assert.equal((await presented("kube.own.test")).fingerprint, fp(renewed.cert));
  assert.equal((await presented("example.test")).fingerprint, fp(pub.cert));
});
