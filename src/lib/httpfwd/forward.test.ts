import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { once } from "node:events";
import http, { type IncomingMessage, type RequestListener } from "node:http";
import https from "node:https";
import net, { type AddressInfo } from "node:net";
import { Duplex, Readable } from "node:stream";
import { after, describe, test } from "node:test";
import { WebSocket, WebSocketServer } from "ws";
import { systemClock } from "../../api/clock.ts";
import { createCa, generateEcdsaP256, issueServerCertificate, SubjectPublicKey } from "../crypto/index.ts";
import { type ForwardOutcome, type ForwardRequestOptions, HttpForwarder } from "./forward.ts";
import { locationRewriter } from "./redirect.ts";
import type { UpstreamOptions } from "./upstream.ts";

const MB = 1024 * 1024;
const closers: Array<() => void> = [];
after(() => {
  for (const c of closers.reverse()) c();
});

async function listen(server: http.Server | https.Server): Promise<number> {
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  closers.push(() => {
    server.closeAllConnections();
    server.close();
  });
  return (server.address() as AddressInfo).port;
}

async function upstream(handler: RequestListener): Promise<{ server: http.Server; url: string }> {
  const server = http.createServer(handler);
  const port = await listen(server);
  return { server, url: `http://127.0.0.1:${port}` };
}

/** A proxy in front of `opts.url`; `outcomes` collects what forward() resolved with. */
async function proxy(opts: UpstreamOptions, per: ForwardRequestOptions = {}) {
  const fwd = new HttpForwarder(opts);
  closers.push(() => fwd.close());
  const outcomes: ForwardOutcome[] = [];
  const server = http.createServer((req, res) => {
    void fwd.forward(req, res, per).then((o) => outcomes.push(o));
  });
  server.on("upgrade", (req, socket, head) => {
    void fwd.upgrade(req, socket, head, per).then((o) => outcomes.push(o));
  });
  const port = await listen(server);
  return { port, base: `http://127.0.0.1:${port}`, outcomes, fwd };
}

/** A body made on the fly (constant memory), counting what was pulled from it. */
function generated(total: number, counter: { produced: number }): Readable {
  const chunk = Buffer.alloc(64 * 1024, 7);
  for (let i = 0; i < chunk.length; i++) chunk[i] = i % 251;
  return new Readable({
    read() {
      if (counter.produced >= total) return void this.push(null);
      const n = Math.min(chunk.length, total - counter.produced);
      counter.produced += n;
      this.push(n === chunk.length ? chunk : chunk.subarray(0, n));
    },
  });
}

async function hashStream(s: Readable): Promise<{ bytes: number; sha: string }> {
  const h = createHash("sha256");
  let bytes = 0;
  for await (const c of s) {
    bytes += (c as Buffer).length;
    h.update(c as Buffer);
  }
  return { bytes, sha: h.digest("hex") };
}

function request(o: http.RequestOptions & { port: number }, body?: Readable | string): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const r = http.request({ host: "127.0.0.1", agent: false, ...o }, resolve);
    r.on("error", reject);
    if (body === undefined) r.end();
    else if (typeof body === "string") r.end(body);
    else body.pipe(r);
  });
}

const text = async (r: IncomingMessage) => (await hashStreamText(r)).trim();
async function hashStreamText(r: Readable): Promise<string> {
  let s = "";
  for await (const c of r) s += String(c);
  return s;
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("httpfwd: streaming with backpressure", () => {
  test("a 50 MB upload reaches the upstream intact without being buffered", async () => {
    const total = 50 * MB;
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const up = await upstream(async (req, res) => {
      await gate; // a slow reader: the proxy must not read ahead of it
      const r = await hashStream(req);
      res.end(JSON.stringify(r));
    });
    const p = await proxy({ url: up.url });
    const counter = { produced: 0 };
    const pending = request(
      { port: p.port, method: "POST", path: "/upload", headers: { "content-type": "application/octet-stream" } },
      generated(total, counter),
    );
    await sleep(400);
    const inFlight = counter.produced;
    assert.ok(inFlight < 24 * MB, `the client could push ${inFlight} bytes while the upstream read nothing`);
    release();
    const res = await pending;
    assert.equal(res.statusCode, 200);
    const got = JSON.parse(await text(res)) as { bytes: number; sha: string };
    const want = await hashStream(generated(total, { produced: 0 }));
    assert.deepEqual(got, want);
  });

  test("a 50 MB download streams to a slow client without being buffered", async () => {
    const total = 50 * MB;
    const counter = { produced: 0 };
    const up = await upstream((_req, res) => {
      res.writeHead(200, { "content-type": "application/octet-stream", "content-length": total });
      generated(total, counter).pipe(res);
    });
    const p = await proxy({ url: up.url });
    const res = await request({ port: p.port, path: "/download" });
    assert.equal(res.headers["content-length"], String(total));
    res.pause();
    await sleep(400);
    assert.ok(counter.produced < 24 * MB, `the upstream could push ${counter.produced} bytes while the client read nothing`);
    const got = await hashStream(res);
    assert.deepEqual(got, await hashStream(generated(total, { produced: 0 })));
  });

  test("a chunked response arrives piece by piece, as the upstream writes it", async () => {
    let second: () => void = () => {};
    const secondAllowed = new Promise<void>((r) => {
      second = r;
    });
    const up = await upstream(async (_req, res) => {
      res.writeHead(200, { "content-type": "text/plain" });
      res.write("first\n");
      await secondAllowed;
      res.end("second\n");
    });
    const p = await proxy({ url: up.url });
    const res = await request({ port: p.port, path: "/events" });
    assert.equal(res.headers["transfer-encoding"], "chunked");
    const it = res[Symbol.asyncIterator]();
    const first = await it.next();
    assert.equal(String(first.value), "first\n", "the first chunk came before the upstream finished");
    second();
    let rest = "";
    for (let n = await it.next(); !n.done; n = await it.next()) rest += String(n.value);
    assert.equal(rest, "second\n");
  });

  test("a chunked upload is re-framed to the upstream", async () => {
    const up = await upstream(async (req, res) => {
      res.end(`${req.headers["transfer-encoding"]}:${await hashStreamText(req)}`);
    });
    const p = await proxy({ url: up.url });
    const body = Readable.from(["a", "b", "c"]);
    const res = await request({ port: p.port, method: "PUT", path: "/", headers: { "transfer-encoding": "chunked" } }, body);
    assert.equal(await text(res), "chunked:abc");
  });
});

describe("httpfwd: headers", () => {
  test("hop-by-hop headers are removed both ways; X-Forwarded-* are set; the caller's edits apply", async () => {
    let seen: IncomingMessage | undefined;
    const up = await upstream((req, res) => {
      seen = req;
      res.writeHead(
        200,
        [
          ["Connection", "x-resp-hop, keep-alive"],
          ["X-Resp-Hop", "1"],
          ["Keep-Alive", "timeout=99"],
          ["Proxy-Authenticate", "Basic"],
          ["Trailer", "X-Sum"],
          ["Set-Cookie", "a=1"],
          ["Set-Cookie", "b=2"],
          ["Server-Secret", "drop me"],
          ["X-End", "kept"],
        ].flat(),
      );
      res.end("ok");
    });
    const p = await proxy(
      { url: up.url },
      {
        clientAddr: "203.0.113.7",
        proto: "https",
        requestHeaders: { remove: ["cookie"], set: [["jumpgate-jwt-assertion", "TOKEN"]], add: [["X-Extra", "1"]] },
        responseHeaders: { remove: ["server-secret"] },
      },
    );
    const res = await request({
      port: p.port,
      path: "/h?q=1",
      headers: {
        Host: "grafana.proxy.test",
        Connection: "x-custom, keep-alive",
        "X-Custom": "1",
        "Keep-Alive": "timeout=5",
        "Proxy-Authorization": "Basic eA==",
        "Proxy-Foo": "bar",
        TE: "trailers",
        Upgrade: "h2c",
        Cookie: "grafana_session=secret",
        "X-Forwarded-For": "6.6.6.6",
        "jumpgate-jwt-assertion": "forged",
        "X-Kept": "yes",
      },
    });
    assert.equal(await text(res), "ok");
    assert.ok(seen);
    const h = seen.headers;
    for (const name of ["x-custom", "keep-alive", "proxy-authorization", "proxy-foo", "te", "upgrade", "cookie", "transfer-encoding"]) {
      assert.equal(h[name], undefined, `${name} must not reach the upstream`);
    }
    assert.equal(seen.url, "/h?q=1");
    assert.equal(h["x-kept"], "yes");
    assert.equal(h.host, `127.0.0.1:${new URL(up.url).port}`);
    assert.equal(h["x-forwarded-for"], "203.0.113.7");
    assert.equal(h["x-forwarded-proto"], "https");
    assert.equal(h["x-forwarded-host"], "grafana.proxy.test");
    assert.equal(h["jumpgate-jwt-assertion"], "TOKEN");
    assert.equal(h["x-extra"], "1");
    // The response: the upstream's hop-by-hop headers are gone (node adds its own keep-alive for this hop).
    assert.equal(res.headers["x-resp-hop"], undefined);
    assert.equal(res.headers["proxy-authenticate"], undefined);
    assert.equal(res.headers.trailer, undefined);
    assert.notEqual(res.headers["keep-alive"], "timeout=99");
    assert.equal(res.headers["server-secret"], undefined);
    assert.deepEqual(res.headers["set-cookie"], ["a=1", "b=2"]);
    assert.equal(res.headers["x-end"], "kept");
  });

  test("redirects to the upstream's own host are rewritten to the public address", async () => {
    const up = await upstream((req, res) => {
      const target = req.url === "/elsewhere" ? "https://idp.example.com/login" : `http://${req.headers.host}/login?next=%2F`;
      res.writeHead(302, { location: target });
      res.end();
    });
    const upHost = new URL(up.url).host;
    const p = await proxy(
      { url: up.url },
      { rewriteLocation: locationRewriter({ publicBase: "https://grafana.proxy.test:3080", hosts: [upHost, "localhost:3000"] }) },
    );
    const res = await request({ port: p.port, path: "/" });
    res.resume();
    assert.equal(res.headers.location, "https://grafana.proxy.test:3080/login?next=%2F");
    const other = await request({ port: p.port, path: "/elsewhere" });
    other.resume();
    assert.equal(other.headers.location, "https://idp.example.com/login");
  });
});

describe("httpfwd: upgrades", () => {
  test("a WebSocket upgrade passes through and echoes both ways, with the request headers rewritten", async () => {
    const server = http.createServer((_req, res) => res.end("not a websocket"));
    const wss = new WebSocketServer({ noServer: true });
    let assertion: string | undefined;
    server.on("upgrade", (req, socket, head) => {
      assertion = req.headers["jumpgate-jwt-assertion"] as string | undefined;
      wss.handleUpgrade(req, socket, head, (ws) => ws.on("message", (m, binary) => ws.send(m, { binary })));
    });
    closers.push(() => wss.close());
    const port = await listen(server);
    const p = await proxy({ url: `http://127.0.0.1:${port}` }, { requestHeaders: { set: [["jumpgate-jwt-assertion", "TOKEN"]] } });
    const ws = new WebSocket(`ws://127.0.0.1:${p.port}/ws`);
    await once(ws, "open");
    const replies: string[] = [];
    const got = new Promise<void>((resolve) =>
      ws.on("message", (m) => {
        replies.push(String(m));
        if (replies.length === 2) resolve();
      }),
    );
    ws.send("hello");
    ws.send("x".repeat(200_000));
    await got;
    assert.deepEqual(replies, ["hello", "x".repeat(200_000)]);
    assert.equal(assertion, "TOKEN");
    ws.close();
    await once(ws, "close");
  });

  test("an upstream that refuses the upgrade answers as it likes, then the connection closes", async () => {
    const up = await upstream((_req, res) => {
      res.writeHead(403, { "content-type": "text/plain" });
      res.end("no sockets for you");
    });
    const p = await proxy({ url: up.url });
    const ws = new WebSocket(`ws://127.0.0.1:${p.port}/ws`);
    ws.on("error", () => {});
    const [, res] = (await once(ws, "unexpected-response")) as [unknown, IncomingMessage];
    assert.equal(res.statusCode, 403);
    assert.equal(await text(res), "no sockets for you");
    ws.terminate();
  });
});

describe("httpfwd: failures", () => {
  const deadPort = async () => {
    const s = net.createServer().listen(0, "127.0.0.1");
    await once(s, "listening");
    const port = (s.address() as AddressInfo).port;
    await new Promise((r) => s.close(r));
    return port;
  };

  test("an upstream that is down gives 502 with one line saying so", async () => {
    const port = await deadPort();
    const p = await proxy({ url: `http://127.0.0.1:${port}` });
    const res = await request({ port: p.port, path: "/" });
    assert.equal(res.statusCode, 502);
    assert.equal(await text(res), `upstream 127.0.0.1:${port} is not reachable: connection refused`);
    assert.equal(p.outcomes.at(-1)?.error?.code, "connect-failed");
    // The same for a WebSocket.
    const ws = new WebSocket(`ws://127.0.0.1:${p.port}/ws`);
    ws.on("error", () => {});
    const [, wres] = (await once(ws, "unexpected-response")) as [unknown, IncomingMessage];
    assert.equal(wres.statusCode, 502);
    ws.terminate();
  });

  test("upstream response headers that do not come in time give 504", async () => {
    const up = await upstream(() => {
      /* never answers */
    });
    const p = await proxy({ url: up.url, headersTimeoutMs: 150 });
    const t0 = Date.now();
    const res = await request({ port: p.port, path: "/slow" });
    assert.equal(res.statusCode, 504);
    assert.match(await text(res), /^upstream 127\.0\.0\.1:\d+ sent no response within 150 ms$/);
    assert.ok(Date.now() - t0 < 3000);
  });

  test("a dial that does not complete in time gives 504; a dial that throws gives 502", async () => {
    const hang = await proxy({ url: "http://app.internal:80", connectTimeoutMs: 100, dial: () => new Promise<Duplex>(() => {}) });
    const r1 = await request({ port: hang.port, path: "/" });
    assert.equal(r1.statusCode, 504);
    assert.equal(await text(r1), "upstream app.internal did not accept a connection within 100 ms");
    const broken = await proxy({
      url: "http://app.internal",
      dial: () => {
        throw new Error("no tunnel to host 42");
      },
    });
    const r2 = await request({ port: broken.port, path: "/" });
    assert.equal(r2.statusCode, 502);
    assert.equal(await text(r2), "upstream app.internal is not reachable: no tunnel to host 42");
  });

  test("a pooled connection the upstream dropped is retried once for bodiless requests, never for uploads", async () => {
    // Answers the first request on each connection, then closes it on the next one without answering.
    const server = net.createServer((sock) => {
      let served = 0;
      let buf = "";
      sock.on("data", (d) => {
        buf += String(d);
        while (buf.includes("\r\n\r\n")) {
          const end = buf.indexOf("\r\n\r\n") + 4;
          const len = Number(/content-length: *(\d+)/i.exec(buf.slice(0, end))?.[1] ?? 0);
          if (buf.length < end + len) return;
          buf = buf.slice(end + len);
          if (served++ > 0) return void sock.destroy();
          sock.write("HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: keep-alive\r\n\r\nok");
        }
      });
      sock.on("error", () => {});
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    closers.push(() => server.close());
    const p = await proxy({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
    assert.equal(await text(await request({ port: p.port, path: "/1" })), "ok");
    assert.equal(await text(await request({ port: p.port, path: "/2" })), "ok", "retried on a fresh connection");
    const post = await request({ port: p.port, method: "POST", path: "/3", headers: { "content-length": "4" } }, "body");
    assert.equal(post.statusCode, 502);
    assert.match(await text(post), /^upstream 127\.0\.0\.1:\d+ closed the connection: /);
  });

  test("an upstream that dies mid-body cuts the client's response instead of finishing it", async () => {
    const up = await upstream((_req, res) => {
      res.writeHead(200, { "content-length": 1000 });
      res.write("partial");
      setTimeout(() => res.socket?.destroy(), 50);
    });
    const p = await proxy({ url: up.url });
    const res = await request({ port: p.port, path: "/" });
    await assert.rejects(hashStreamText(res));
  });
});

describe("httpfwd: dial functions and TLS", () => {
  /** A tunnel channel stand-in: a plain Duplex (no socket methods) over a TCP connection. */
  const channelDial =
    (): UpstreamOptions["dial"] =>
    async ({ host, port }) => {
      const s = net.connect({ host: host === "app.internal" ? "127.0.0.1" : host, port });
      await once(s, "connect");
      const d = new Duplex({
        read() {
          s.resume();
        },
        write(chunk, _enc, cb) {
          s.write(chunk, cb);
        },
        final(cb) {
          s.end();
          cb();
        },
        destroy(err, cb) {
          s.destroy();
          cb(err);
        },
      });
      s.on("data", (c) => {
        if (!d.push(c)) s.pause();
      });
      s.on("end", () => d.push(null));
      s.on("error", (e) => d.destroy(e));
      return d;
    };

  test("requests go through a dial function's Duplex, connections reused", async () => {
    let connections = 0;
    const up = await upstream((req, res) => res.end(`${req.headers.host} ${req.url}`));
    up.server.on("connection", () => connections++);
    const port = new URL(up.url).port;
    const p = await proxy({ url: `http://app.internal:${port}`, dial: channelDial() });
    for (const path of ["/a", "/b", "/c"]) {
      const res = await request({ port: p.port, path });
      assert.equal(await text(res), `app.internal:${port} ${path}`);
    }
    assert.equal(connections, 1, "keep-alive reuses the dialed connection");
  });

  test("https upstreams: verified against the given CA, refused when untrusted, or not verified when asked", async () => {
    const ca = await createCa({ commonName: "app CA", organization: "test", clock: systemClock });
    const key = generateEcdsaP256();
    const cert = await issueServerCertificate({
      caCert: ca.certPem,
      caKey: ca.privateKey,
      publicKey: SubjectPublicKey.fromPem(key.publicKey.export({ format: "pem", type: "spki" }).toString()),
      commonName: "app.internal",
      dnsNames: ["app.internal"],
      ipAddresses: [],
      ttlMs: 3600_000,
      clock: systemClock,
    });
    const server = https.createServer({ cert, key: key.privateKey.export({ format: "pem", type: "pkcs8" }) }, (req, res) => res.end(`secure ${req.url}`));
    const port = await listen(server);
    const url = `https://app.internal:${port}`;
    const dial = channelDial();
    const good = await proxy({ url, dial, tls: { ca: ca.certPem } });
    assert.equal(await text(await request({ port: good.port, path: "/x" })), "secure /x");
    const untrusted = await proxy({ url, dial });
    const r = await request({ port: untrusted.port, path: "/x" });
    assert.equal(r.statusCode, 502);
    assert.match(await text(r), /^TLS to upstream app\.internal:\d+ failed: /);
    const insecure = await proxy({ url, dial, tls: { insecureSkipVerify: true } });
    assert.equal(await text(await request({ port: insecure.port, path: "/y" })), "secure /y");
  });
});
