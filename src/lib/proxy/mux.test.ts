import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import { after, before, test } from "node:test";
import tls from "node:tls";
import { addressMatcher, type ConnInfo, Multiplexer } from "./mux.ts";
import { testLog, testTls } from "./proxy.test-helpers.ts";
import { encodeV1, encodeV2, V2_SIGNATURE } from "./proxyprotocol/index.ts";

/**
 * The multiplexer's PROXY protocol handling, on loopback: the mux trusts
 * 127.0.0.2 only, and the tests pick their source address (all of 127/8 is local).
 */
const TRUSTED = "127.0.0.2";
const CLIENT = { source: { address: "198.51.100.23", port: 50123 }, destination: { address: "10.0.0.1", port: 443 } };

let mux: Multiplexer;
let port = 0;
let ca = "";
const seen: { kind: string; info: ConnInfo; socketAddr: string; first: string }[] = [];

before(async () => {
  const t = await testTls();
  ca = t.ca;
  mux = new Multiplexer({ tls: t, log: testLog(), handshakeTimeoutMs: 1_000, trustedProxyProtocolAddrs: [`${TRUSTED}/32`, "2001:db8::/32"] });
  const record = (kind: string) => (s: net.Socket, info: ConnInfo) => {
    s.resume();
    s.once("data", (d: Buffer) => {
      seen.push({ kind, info, socketAddr: `${s.remoteAddress}:${s.remotePort}`, first: d.toString() });
      s.end(`hello ${info.remoteAddr}\n`);
    });
  };
  mux.handleRaw("ssh", record("ssh"));
  mux.handleAlpn("test-alpn", record("tls"));
  const web = http.createServer((req, res) => res.end(`${req.socket.remoteAddress}:${req.socket.remotePort}`));
  mux.handleAlpn("http/1.1", (s) => web.emit("connection", s));
  port = (await mux.listen("127.0.0.1", 0)).port;
});
after(() => mux.close());

function connect(from: string): net.Socket {
  const s = net.connect({ port, host: "127.0.0.1", localAddress: from });
  s.on("error", () => undefined);
  return s;
}

/** Writes `chunks` one by one and resolves with everything read until the peer closes. */
function exchange(s: net.Socket, chunks: Buffer[], gapMs = 0): Promise<string> {
  return new Promise((resolve) => {
    let out = "";
    s.on("data", (d: Buffer) => (out += d.toString()));
    s.once("close", () => resolve(out));
    s.once("connect", async () => {
      for (const c of chunks) {
        if (s.destroyed) break;
        s.write(c);
        if (gapMs) await new Promise((r) => setTimeout(r, gapMs));
      }
    });
  });
}

test("a trusted balancer's v1 header: the SSH handler sees the client, and the bytes after the header", async () => {
  const out = await exchange(connect(TRUSTED), [Buffer.concat([encodeV1(CLIENT), Buffer.from("SSH-2.0-test\r\n")])]);
  assert.equal(out, "hello 198.51.100.23:50123\n");
  const last = seen.at(-1);
  assert.equal(last?.kind, "ssh");
  assert.equal(last?.socketAddr, "198.51.100.23:50123");
  assert.equal(last?.first, "SSH-2.0-test\r\n");
});

test("a v2 header sent a byte at a time, then TLS: ALPN handler and HTTP handlers see the client", async () => {
  const header = encodeV2({ ...CLIENT, tlvs: Buffer.from([0x04, 0x00, 0x02, 0x00, 0x00]) });
  const raw = connect(TRUSTED);
  await new Promise((r) => raw.once("connect", r));
  for (const b of header) {
    raw.write(Buffer.from([b]));
    await new Promise((r) => setTimeout(r, 2));
  }
  const t = tls.connect({ socket: raw, ca, servername: "localhost", ALPNProtocols: ["test-alpn"] });
  const out = await new Promise<string>((resolve, reject) => {
    let s = "";
    t.on("secureConnect", () => t.write("ping"));
    t.on("data", (d: Buffer) => (s += d.toString()));
    t.on("end", () => resolve(s));
    t.on("error", reject);
  });
  assert.equal(out, "hello 198.51.100.23:50123\n");
  assert.equal(seen.at(-1)?.socketAddr, "198.51.100.23:50123");

  const v6 = { source: { address: "2001:db8::42", port: 6000 }, destination: { address: "2001:db8::1", port: 443 } };
  const raw2 = connect(TRUSTED);
  await new Promise((r) => raw2.once("connect", r));
  raw2.write(encodeV2(v6));
  const body = await new Promise<string>((resolve, reject) => {
    const req = https({ socket: raw2, ca }, resolve);
    req.on("error", reject);
  });
  assert.equal(body, "2001:db8::42:6000");
});

function https(o: { socket: net.Socket; ca: string }, done: (body: string) => void): http.ClientRequest {
  const agent = new http.Agent();
  agent.createConnection = () => tls.connect({ socket: o.socket, ca: o.ca, servername: "localhost", ALPNProtocols: ["http/1.1"] });
  return http.get({ agent, path: "/", headers: { host: "localhost" } }, (res) => {
    let b = "";
    res.on("data", (d: Buffer) => (b += d.toString()));
    res.on("end", () => done(b));
  });
}

test("LOCAL and UNKNOWN keep the connection's own address", async () => {
  for (const header of [encodeV2(), encodeV1()]) {
    const out = await exchange(connect(TRUSTED), [Buffer.concat([header, Buffer.from("SSH-2.0-x\r\n")])]);
    assert.match(out, /^hello 127\.0\.0\.2:\d+\n$/);
  }
});

test("a trusted address must send a header; garbage after the signature is refused", async () => {
  assert.equal(await exchange(connect(TRUSTED), [Buffer.from("SSH-2.0-no-header\r\n")]), "");
  assert.equal(await exchange(connect(TRUSTED), [Buffer.concat([V2_SIGNATURE, Buffer.from("garbage!")])]), "");
  assert.equal(await exchange(connect(TRUSTED), [Buffer.from(`PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\nSSH-2.0-x\r\n`)]), "");
  // A second header after the first is not a protocol anyone speaks.
  assert.equal(await exchange(connect(TRUSTED), [encodeV1(CLIENT), encodeV1(CLIENT)], 20), "");
});

test("an untrusted address sending a header is refused; without one it is served as usual", async () => {
  const before = seen.length;
  assert.equal(await exchange(connect("127.0.0.1"), [Buffer.concat([encodeV1(CLIENT), Buffer.from("SSH-2.0-x\r\n")])]), "");
  assert.equal(await exchange(connect("127.0.0.1"), [Buffer.concat([encodeV2(CLIENT), Buffer.from("SSH-2.0-x\r\n")])]), "");
  assert.equal(seen.length, before);
  assert.match(await exchange(connect("127.0.0.1"), [Buffer.from("SSH-2.0-plain\r\n")]), /^hello 127\.0\.0\.1:\d+\n$/);
});

test("the handshake deadline covers a header that never finishes", async () => {
  const s = connect(TRUSTED);
  const started = Date.now();
  await exchange(s, [Buffer.from("PROXY TCP4 1.2.3.4 ")]);
  const took = Date.now() - started;
  assert.ok(took >= 900 && took < 3_000, `closed after ${took} ms`);
});

test("addressMatcher: IPs and CIDRs, IPv4 and IPv6, IPv4-mapped peers", () => {
  const m = addressMatcher(["10.0.0.0/8", "192.0.2.7", "2001:db8::/32", "::1"]);
  for (const a of ["10.1.2.3", "::ffff:10.1.2.3", "192.0.2.7", "2001:db8:1::5", "::1"]) assert.ok(m(a), a);
  for (const a of ["11.0.0.1", "192.0.2.8", "2001:db9::1", "::2", "", "nonsense"]) assert.ok(!m(a), a);
  assert.equal(addressMatcher([])("10.0.0.1"), false);
});
