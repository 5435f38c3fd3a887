import assert from "node:assert/strict";
import type net from "node:net";
import tls from "node:tls";
import { after, before, test } from "node:test";
import { type ConnInfo, Multiplexer } from "./mux.ts";
import { testLog, testTls } from "./proxy.test-helpers.ts";

/** Names routed by SNI to the TLS server that asks for a client certificate (the Kubernetes route). */
let mux: Multiplexer;
let port = 0;
let pair: { cert: string; key: string; ca: string };

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
  port = (await mux.listen("127.0.0.1", 0)).port;
});
after(() => mux.close());

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
