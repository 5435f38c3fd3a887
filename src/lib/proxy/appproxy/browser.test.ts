import assert from "node:assert/strict";
import { once } from "node:events";
import type { IncomingMessage } from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import { after, before, describe, test } from "node:test";
import { type ClientOptions, WebSocket, WebSocketServer } from "ws";
import { FakeClock } from "../../../api/clock.ts";
import { testLog, testTls } from "../proxy.test-helpers.ts";
import { type FakeAgent, fakeAgent, fakeAppAuth } from "./appproxy.test-helpers.ts";
import { AppWebHandler } from "./browser.ts";
import type { AppRefusal } from "./dialer.ts";

const PROXY = "localhost:3080";
const COOKIE = "__Host-jumpgate_app_session";

interface Res {
  status: number;
  headers: IncomingMessage["headers"];
  body: string;
}

describe("browser access on an app's host", () => {
  const clock = new FakeClock(new Date());
  const fa = fakeAppAuth(clock);
  const refusals: AppRefusal[] = [];
  const seen: { url: string; headers: IncomingMessage["headers"] }[] = [];
  let agent: FakeAgent;
  let handler: AppWebHandler;
  let server: https.Server;
  let port = 0;

  const call = (sni: string, path: string, o: { host?: string; cookie?: string; method?: string; body?: Readable } = {}) =>
    new Promise<Res>((resolve, reject) => {
      const headers: Record<string, string> = { host: o.host ?? `${sni}:3080` };
      if (o.cookie !== undefined) headers.cookie = o.cookie;
      if (o.body) headers["transfer-encoding"] = "chunked";
      const r = https.request(
        { host: "127.0.0.1", port, path, method: o.method ?? "GET", servername: sni, headers, rejectUnauthorized: false, agent: false },
        (res) => {
          let body = "";
          res.setEncoding("utf8");
          res.on("data", (c: string) => {
            body += c;
          });
          res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        },
      );
      r.on("error", reject);
      if (o.body) o.body.pipe(r);
      else r.end();
    });

  before(async () => {
    const wss = new WebSocketServer({ noServer: true });
    agent = await fakeAgent(
      (req, res) => {
        seen.push({ url: req.url ?? "", headers: req.headers });
        if (req.url === "/upload") {
          let n = 0;
          req.on("data", (c: Buffer) => {
            n += c.length;
          });
          req.on("end", () => res.end(`received ${n} bytes`));
          return;
        }
        res.end(`hello from ${req.headers.host}`);
      },
      (req, socket, head) => wss.handleUpgrade(req, socket, head, (ws) => ws.on("message", (m) => ws.send(`echo: ${String(m)}`))),
    );
    agent.serving.set("grafana", [{ hostId: "h1", app: "grafana" }]);
    agent.serving.set("wiki", [
      { hostId: "down", app: "wiki" },
      { hostId: "h2", app: "wiki", publicAddr: "wiki.corp.test" },
    ]);
    handler = new AppWebHandler({
      proxyPublicAddr: PROXY,
      auth: fa.auth,
      routes: agent.routes,
      publicAddrs: async () => new Map([["wiki.corp.test", "wiki"]]),
      onRefused: (r) => refusals.push(r),
      clock,
      log: testLog(),
    });
    const t = await testTls();
    server = https.createServer({ cert: t.cert, key: t.key, requestTimeout: 0 }, handler.handle);
    server.on("upgrade", handler.upgrade);
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    port = (server.address() as AddressInfo).port;
  });
  after(() => {
    handler.close();
    agent.close();
    server.closeAllConnections();
    server.close();
  });

  test("routes by server name: NAME.<proxy host> and configured public_addr hosts, not the proxy itself", async () => {
    assert.equal(handler.isAppHost("grafana.localhost"), true);
    assert.equal(handler.isAppHost("GRAFANA.LOCALHOST"), true);
    assert.equal(handler.isAppHost("localhost"), false);
    assert.equal(handler.isAppHost(undefined), false);
    assert.equal(await handler.isAppHost("wiki.corp.test"), true);
    assert.equal(await handler.isAppHost("a.b.localhost"), false);
    assert.equal(await handler.isAppHost("elsewhere.test"), false);
  });

  test("the launch token becomes a host-only cookie, then a 303 to a sanitised path", async () => {
    fa.launch("tok-1", "ck-1", { id: "s1", user: "alice", app: "grafana", publicAddr: "grafana.localhost:3080" });
    const r = await call("grafana.localhost", "/x-jumpgate-app-auth?token=tok-1&path=%2Fdash%3Fx%3D1");
    assert.equal(r.status, 303);
    assert.equal(r.headers.location, "/dash?x=1");
    const set = String(r.headers["set-cookie"]);
    const m = /^__Host-jumpgate_app_session=ck-1; Path=\/; Secure; HttpOnly; SameSite=Lax; Max-Age=(\d+)$/.exec(set);
    assert.ok(m, set);
    assert.ok(Math.abs(Number(m[1]) - 3600) <= 2);
    const reused = await call("grafana.localhost", "/x-jumpgate-app-auth?token=tok-1&path=/");
    assert.equal(reused.status, 403);
    assert.match(reused.body, /expired or was used already/);
    fa.launch("tok-2", "ck-2", { id: "s2", user: "alice", app: "grafana", publicAddr: "grafana.localhost" });
    const evil = await call("grafana.localhost", "/x-jumpgate-app-auth?token=tok-2&path=//evil.example/x");
    assert.equal(evil.status, 303);
    assert.equal(evil.headers.location, "/");
  });

  test("a launch token for another host is refused and audited", async () => {
    fa.launch("tok-3", "ck-3", { id: "s3", user: "alice", app: "grafana", publicAddr: "grafana.localhost" });
    const r = await call("wiki.corp.test", "/x-jumpgate-app-auth?token=tok-3&path=/", { host: "wiki.corp.test" });
    assert.equal(r.status, 403);
    assert.match(r.body, /this app session is for grafana\.localhost, not wiki\.corp\.test/);
    assert.equal(r.headers["set-cookie"], undefined);
    // The launch answer need not name the user.
    assert.deepEqual(refusals.at(-1), {
      app: "wiki",
      clientAddr: refusals.at(-1)?.clientAddr,
      reason: "this app session is for grafana.localhost, not wiki.corp.test",
    });
  });

  test("Host must match the TLS server name (421); case and port do not matter", async () => {
    const r = await call("grafana.localhost", "/", { host: "other.localhost:3080" });
    assert.equal(r.status, 421);
    const upper = await call("grafana.localhost", "/", { host: "GRAFANA.localhost:3080" });
    assert.equal(upper.status, 302);
  });

  test("no cookie or a dead one: back to the launch route with the path (and the dead cookie cleared)", async () => {
    const none = await call("grafana.localhost", "/a/b?c=1");
    assert.equal(none.status, 302);
    assert.equal(none.headers.location, "https://localhost:3080/web/launch/grafana?path=%2Fa%2Fb%3Fc%3D1");
    assert.equal(none.headers["set-cookie"], undefined);
    const dead = await call("grafana.localhost", "/", { cookie: `${COOKIE}=forged` });
    assert.equal(dead.status, 302);
    assert.match(String(dead.headers["set-cookie"]), /^__Host-jumpgate_app_session=; .*Max-Age=0$/);
  });

  test("requests are forwarded over a pooled stream that starts with the session's header; the app never sees the cookie", async () => {
    fa.session("ck-4", { id: "s4", user: "alice", app: "grafana", publicAddr: "grafana.localhost" });
    const before = fa.calls.authenticate;
    const streams = agent.streams();
    const cookie = `a=1; ${COOKIE}=ck-4; b=2`;
    const r1 = await call("grafana.localhost", "/hello", { cookie });
    const r2 = await call("grafana.localhost", "/hello", { cookie });
    assert.equal(r1.status, 200, r1.body);
    assert.equal(r2.body, "hello from grafana.localhost:3080");
    assert.equal(agent.streams() - streams, 1, "one keep-alive stream for the session");
    assert.equal(fa.calls.authenticate - before, 1, "Auth's answer is cached");
    const got = seen.at(-1);
    assert.equal(got?.headers.cookie, "a=1; b=2");
    assert.equal(got?.headers["x-forwarded-host"], "grafana.localhost:3080");
    assert.equal(got?.headers["x-forwarded-proto"], "https");
    const h = agent.headers.at(-1);
    assert.equal(h?.cert, "CERT-s4");
    assert.equal(h?.app, "grafana");
    assert.equal(h?.publicAddr, "grafana.localhost:3080");
    assert.match(h?.clientAddr ?? "", /^127\.0\.0\.1:\d+$/);
  });

  test("uploads stream through, and WebSockets pass", async () => {
    fa.session("ck-5", { id: "s5", user: "alice", app: "grafana", publicAddr: "grafana.localhost" });
    const total = 24 * 1024 * 1024;
    let sent = 0;
    const chunk = Buffer.alloc(256 * 1024, 1);
    const body = new Readable({
      read() {
        if (sent >= total) return void this.push(null);
        sent += chunk.length;
        this.push(chunk);
      },
    });
    const up = await call("grafana.localhost", "/upload", { method: "POST", cookie: `${COOKIE}=ck-5`, body });
    assert.equal(up.body, `received ${total} bytes`);
    const wsOptions = (cookie?: string): ClientOptions & { servername: string } => ({
      rejectUnauthorized: false,
      servername: "grafana.localhost",
      headers: { host: "grafana.localhost:3080", ...(cookie ? { cookie } : {}) },
    });
    const ws = new WebSocket(`wss://127.0.0.1:${port}/ws`, wsOptions(`${COOKIE}=ck-5`));
    await once(ws, "open");
    ws.send("ping");
    const [msg] = (await once(ws, "message")) as [Buffer];
    assert.equal(String(msg), "echo: ping");
    ws.close();
    const refused = new WebSocket(`wss://127.0.0.1:${port}/ws`, wsOptions());
    refused.on("error", () => undefined);
    const [, res] = (await once(refused, "unexpected-response")) as [unknown, IncomingMessage];
    assert.equal(res.statusCode, 302);
    res.resume();
    refused.terminate();
  });

  test("a cookie of another app is refused with 403 and audited", async () => {
    fa.session("ck-6", { id: "s6", user: "alice", app: "grafana", publicAddr: "grafana.localhost" });
    const n = seen.length;
    const r = await call("wiki.corp.test", "/", { host: "wiki.corp.test", cookie: `${COOKIE}=ck-6` });
    assert.equal(r.status, 403);
    assert.match(r.body, /this app session is for app grafana/);
    assert.equal(seen.length, n, "nothing reached the app");
    assert.equal(refusals.at(-1)?.reason, "this app session is for app grafana");
    assert.equal(refusals.at(-1)?.user, "alice");
    assert.equal(refusals.at(-1)?.app, "wiki");
  });

  test("an app no service serves: 502 page, audited; a service down is skipped for another", async () => {
    fa.session("ck-7", { id: "s7", user: "bob", app: "nothere", publicAddr: "nothere.localhost" });
    const r = await call("nothere.localhost", "/", { cookie: `${COOKIE}=ck-7` });
    assert.equal(r.status, 502);
    assert.match(r.headers["content-type"] ?? "", /text\/html/);
    assert.match(r.body, /no Application Service serves it/);
    assert.deepEqual([refusals.at(-1)?.user, refusals.at(-1)?.app], ["bob", "nothere"]);
    fa.session("ck-8", { id: "s8", user: "bob", app: "wiki", publicAddr: "wiki.corp.test" });
    for (let i = 0; i < 3; i++) {
      const ok = await call("wiki.corp.test", "/", { host: "wiki.corp.test", cookie: `${COOKIE}=ck-8` });
      assert.equal(ok.status, 200, ok.body);
    }
  });

  test("a session Auth refuses (a lock) gets a 403 page, not a redirect loop", async () => {
    fa.session("ck-9", { id: "s9", user: "mallory", app: "grafana", publicAddr: "grafana.localhost" });
    fa.locked.add("mallory");
    const r = await call("grafana.localhost", "/", { cookie: `${COOKIE}=ck-9` });
    assert.equal(r.status, 403);
    assert.match(r.body, /user mallory is locked/);
    assert.match(String(r.headers["set-cookie"]), /Max-Age=0/);
  });

  test("the logout path ends the session in Auth and clears the cookie", async () => {
    fa.session("ck-10", { id: "s10", user: "alice", app: "grafana", publicAddr: "grafana.localhost" });
    assert.equal((await call("grafana.localhost", "/", { cookie: `${COOKIE}=ck-10` })).status, 200);
    const out = await call("grafana.localhost", "/x-jumpgate-app-logout", { cookie: `${COOKIE}=ck-10` });
    assert.equal(out.status, 200);
    assert.match(String(out.headers["set-cookie"]), /^__Host-jumpgate_app_session=; .*Max-Age=0$/);
    assert.match(out.body, /You signed out of grafana/);
    const after = await call("grafana.localhost", "/", { cookie: `${COOKIE}=ck-10` });
    assert.equal(after.status, 302);
  });
});
