import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import net from "node:net";
import { after, before, describe, test } from "node:test";
import tls from "node:tls";
import { APP_ALPN, appFromSni, appSni } from "../../api/appwire.ts";
import { decodeIdentity } from "../crypto/index.ts";
import { appUserCert, hostCert, type TestCas, testCas } from "./app.test-helpers.ts";
import { refusalReason, startLocalAppProxy } from "./appproxy.ts";
import type { RouteCredentials } from "./proxydial.ts";

/** What the fake proxy saw of one connection. */
interface Seen {
  alpn: string | false | null;
  sni: string | false | null | undefined;
  app: string | undefined;
}

/**
 * A stand-in for the proxy's app route: TLS with ALPN, then TLS inside with a
 * proxy host certificate, requiring a client certificate from the user CA. It
 * echoes for a certificate whose route names the app in the SNI, and refuses
 * others with one line, as the proxy does.
 */
async function fakeProxy(cas: TestCas, innerRoles = ["proxy"]): Promise<{ port: number; seen: Seen[]; close(): Promise<void> }> {
  const outerLeaf = await hostCert(cas.host, ["proxy"]);
  const innerLeaf = await hostCert(cas.host, innerRoles);
  const seen: Seen[] = [];
  const sockets = new Set<net.Socket>();
  const inner = tls.createServer({ cert: innerLeaf.cert, key: innerLeaf.key, ca: [cas.user.certPem], requestCert: true, rejectUnauthorized: true }, (s) => {
    const want = appFromSni(s.servername);
    const has = decodeIdentity(s.getPeerX509Certificate()?.raw ?? Buffer.alloc(0)).routeToApp?.name;
    const last = seen.at(-1);
    if (last) Object.assign(last, { sni: s.servername, app: has });
    if (has !== want) {
      s.end(`ERROR: this certificate is for app ${has}, not ${want}: run jsh apps login ${want}\n`);
      return;
    }
    s.pipe(s);
  });
  inner.on("tlsClientError", () => undefined);
  const outer = tls.createServer({ cert: outerLeaf.cert, key: outerLeaf.key, ALPNProtocols: [APP_ALPN] }, (s) => {
    seen.push({ alpn: s.alpnProtocol, sni: undefined, app: undefined });
    inner.emit("connection", s);
  });
  outer.on("connection", (s: net.Socket) => {
    sockets.add(s);
    s.once("close", () => sockets.delete(s));
  });
  await new Promise<void>((r) => outer.listen(0, "127.0.0.1", () => r()));
  return {
    port: (outer.address() as net.AddressInfo).port,
    seen,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        outer.close(() => r());
      }),
  };
}

/**
 * Connects to the local listener, sends `data`, and collects what comes back
 * until `want` bytes have arrived (then closes) or the other side closes.
 */
function exchange(port: number, data: Buffer, want = data.length): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let got = 0;
    const s = net.connect({ host: "127.0.0.1", port }, () => s.write(data));
    s.on("data", (c: Buffer) => {
      chunks.push(c);
      got += c.length;
      if (got >= want) s.end();
    });
    // A reset counts as the end too: what matters is what arrived.
    s.once("error", () => undefined);
    s.once("close", () => resolve(Buffer.concat(chunks)));
  });
}

describe("jsh proxy app: the local listener", () => {
  let cas: TestCas;
  let proxy: Awaited<ReturnType<typeof fakeProxy>>;
  let grafana: RouteCredentials;
  let other: RouteCredentials;
  before(async () => {
    cas = await testCas();
    proxy = await fakeProxy(cas);
    const creds = async (app: string, issuedAgoMs = 0): Promise<RouteCredentials> => {
      const l = await appUserCert(cas.user, app, { issuedAgoMs });
      return { cert: l.cert, key: l.key, hostCas: [cas.host.certPem] };
    };
    grafana = await creds("grafana");
    other = await creds("other");
  });
  after(() => proxy?.close());

  test("pipes bytes both ways over ALPN jumpgate-app and TLS inside with the app certificate and SNI", async () => {
    let asked = 0;
    const local = await startLocalAppProxy({
      profile: { proxy: `127.0.0.1:${proxy.port}`, insecure: true },
      app: "grafana",
      credentials: () => {
        asked++;
        return grafana;
      },
      onError: (e) => assert.fail(e),
    });
    try {
      assert.equal(local.host, "127.0.0.1");
      assert.ok(local.port > 0);
      const big = randomBytes(256 * 1024);
      assert.deepEqual(await exchange(local.port, big), big);
      assert.deepEqual(await exchange(local.port, Buffer.from("GET / HTTP/1.1\r\n\r\n")), Buffer.from("GET / HTTP/1.1\r\n\r\n"));
      assert.equal(asked, 2, "credentials are asked for on each connection");
      assert.deepEqual(proxy.seen.slice(-2), [
        { alpn: APP_ALPN, sni: appSni("grafana"), app: "grafana" },
        { alpn: APP_ALPN, sni: appSni("grafana"), app: "grafana" },
      ]);
    } finally {
      await local.close();
    }
  });

  test("a refusal line is reported, and the listener keeps serving", async () => {
    const errors: string[] = [];
    const queue = [other, grafana];
    const local = await startLocalAppProxy({
      profile: { proxy: `127.0.0.1:${proxy.port}`, insecure: true },
      app: "grafana",
      credentials: () => queue.shift() ?? grafana,
      onError: (e) => errors.push(e.message),
    });
    try {
      const refused = await exchange(local.port, Buffer.from("hello"));
      assert.match(refused.toString(), /^ERROR: this certificate is for app other, not grafana/);
      await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(errors, ["the proxy refused the connection to app grafana: this certificate is for app other, not grafana: run jsh apps login grafana"]);
      assert.deepEqual(await exchange(local.port, Buffer.from("again")), Buffer.from("again"));
      assert.equal(errors.length, 1);
    } finally {
      await local.close();
    }
  });

  test("a certificate the proxy rejects in the handshake (expired) is reported", async () => {
    const l = await appUserCert(cas.user, "grafana", { ttlMs: 60_000, issuedAgoMs: 3 * 60_000 });
    const errors: string[] = [];
    const local = await startLocalAppProxy({
      profile: { proxy: `127.0.0.1:${proxy.port}`, insecure: true },
      app: "grafana",
      credentials: () => ({ cert: l.cert, key: l.key, hostCas: [cas.host.certPem] }),
      onError: (e) => errors.push(e.message),
    });
    try {
      assert.equal((await exchange(local.port, Buffer.from("x"))).length, 0);
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(errors.length, 1, errors.join("\n"));
      assert.match(
        errors[0] ?? "",
        /^the proxy (refused the connection to app grafana: .*alert|closed the connection to app grafana without an answer: .*try: jsh apps login grafana)/,
      );
    } finally {
      await local.close();
    }
  });

  test("an unreachable proxy closes the local connection and says so", async () => {
    const s = net.createServer();
    await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
    const port = (s.address() as net.AddressInfo).port;
    await new Promise<void>((r) => s.close(() => r()));
    const errors: string[] = [];
    const local = await startLocalAppProxy({
      profile: { proxy: `127.0.0.1:${port}`, insecure: true },
      app: "grafana",
      credentials: () => grafana,
      onError: (e) => errors.push(e.message),
    });
    try {
      assert.equal((await exchange(local.port, Buffer.from("x"))).length, 0);
      await new Promise((r) => setTimeout(r, 50));
      assert.match(errors[0] ?? "", new RegExp(`^cannot reach app grafana through 127\\.0\\.0\\.1:${port}: .*ECONNREFUSED`));
    } finally {
      await local.close();
    }
  });

  test("the server inside must hold a proxy's host certificate", async () => {
    const node = await fakeProxy(cas, ["node"]);
    const errors: string[] = [];
    const local = await startLocalAppProxy({
      profile: { proxy: `127.0.0.1:${node.port}`, insecure: true },
      app: "grafana",
      credentials: () => grafana,
      onError: (e) => errors.push(e.message),
    });
    try {
      assert.equal((await exchange(local.port, Buffer.from("x"))).length, 0);
      await new Promise((r) => setTimeout(r, 50));
      assert.match(errors[0] ?? "", /^cannot reach app grafana through 127\.0\.0\.1:\d+: the server inside the route is not a Jumpgate proxy$/);
    } finally {
      await local.close();
      await node.close();
    }
  });

  test("refusalReason reads one ERROR line and nothing else", () => {
    assert.equal(refusalReason(Buffer.from("ERROR: access denied to app grafana\n")), "access denied to app grafana");
    assert.equal(refusalReason(Buffer.from("ERROR: no newline")), "no newline");
    assert.equal(refusalReason(Buffer.from("ERROR: two\nlines\n")), undefined);
    assert.equal(refusalReason(Buffer.from("HTTP/1.1 403 Forbidden\r\n\r\n")), undefined);
    assert.equal(refusalReason(Buffer.from(`ERROR: ${"x".repeat(2000)}\n`)), undefined);
    assert.equal(refusalReason(Buffer.alloc(0)), undefined);
  });
});
