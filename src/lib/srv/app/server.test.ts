import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { once } from "node:events";
import http, { type IncomingMessage } from "node:http";
import net, { type AddressInfo } from "node:net";
import { Duplex, PassThrough, Readable } from "node:stream";
import { after, describe, test } from "node:test";
import { pino } from "pino";
import { type ClientOptions, WebSocket, WebSocketServer } from "ws";
import { APP_JWT_HEADER, APP_SESSION_COOKIE, type AppConnHeader, encodeAppHeader } from "../../../api/appwire.ts";
import { FakeClock } from "../../../api/clock.ts";
import { findLock, type Lock, parseResourceOf, type Role } from "../../../api/resources/index.ts";
import { createCa, generateEcdsaP256, type Identity, issueClientCertificate, jwksOf, signAppToken, verifyAppToken } from "../../crypto/index.ts";
import { ApplicationService, type ApplicationServiceOptions, type AppTarget, appFromConfig, appTargetFromResource } from "./index.ts";

const MB = 1024 * 1024;
const log = pino({ level: process.env.JUMPGATE_TEST_LOG ?? "silent" });
const clock = new FakeClock(new Date());
const closers: Array<() => void> = [];
after(() => {
  for (const c of closers.reverse()) c();
});

const userCa = await createCa({ commonName: "example", organization: "example user CA", clock });
const foreignCa = await createCa({ commonName: "evil", organization: "evil user CA", clock });
const jwtKey = generateEcdsaP256();
const jwks = jwksOf([jwtKey.publicKey]);

async function listen(server: net.Server): Promise<number> {
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  closers.push(() => {
    (server as http.Server).closeAllConnections?.();
    server.close();
  });
  return (server.address() as AddressInfo).port;
}

/** The app behind the service: records what it received, echoes, redirects, counts bodies. */
const seen: IncomingMessage[] = [];
const upstream = http.createServer(async (req, res) => {
  seen.push(req);
  if (req.url === "/redirect") {
    res.writeHead(302, { location: `http://internal.example:8080/after?x=1` });
    res.end();
    return;
  }
  if (req.url === "/self-redirect") {
    res.writeHead(302, { location: `http://127.0.0.1:${upPort}/self` });
    res.end();
    return;
  }
  if (req.method === "POST") {
    const h = createHash("sha256");
    let bytes = 0;
    for await (const c of req) {
      bytes += (c as Buffer).length;
      h.update(c as Buffer);
    }
    res.end(JSON.stringify({ bytes, sha: h.digest("hex") }));
    return;
  }
  res.setHeader("content-type", "application/json");
  res.end(JSON.stringify({ url: req.url, headers: req.headers }));
});
const wss = new WebSocketServer({ server: upstream });
wss.on("connection", (ws) => ws.on("message", (m, binary) => ws.send(m, { binary })));
closers.push(() => wss.close());
const upPort = await listen(upstream);

const tcpEcho = net.createServer((s) => s.pipe(s));
const tcpPort = await listen(tcpEcho);

function webApp(): AppTarget {
  return appTargetFromResource(
    appFromConfig({
      name: "web",
      uri: `http://127.0.0.1:${upPort}`,
      labels: { env: "dev" },
      rewrite: {
        headers: [
          { name: "X-Login", value: "{{internal.logins}}" },
          { name: "X-Team", value: "{{external.team}}" },
          { name: "X-Static", value: "yes" },
        ],
        redirect: ["internal.example"],
      },
    }),
  );
}

const role = (name: string, spec: Record<string, unknown>): Role => parseResourceOf("role", { kind: "role", version: "v7", metadata: { name }, spec });

interface World {
  service: ApplicationService;
  events: Array<Record<string, unknown>>;
  tokenCalls: Array<{ username: string; uri: string }>;
  users: Map<string, { roles: string[]; traits: Record<string, string[]> }>;
  roles: Map<string, Role>;
  locks: Lock[];
  port: number;
  apps: AppTarget[];
}

async function world(over: Partial<ApplicationServiceOptions> = {}, dialTarget?: string): Promise<World> {
  const events: Array<Record<string, unknown>> = [];
  const tokenCalls: Array<{ username: string; uri: string }> = [];
  const users = new Map([["alice", { roles: ["dev"], traits: { logins: ["alice", "root"] } }]]);
  const roles = new Map([
    ["dev", role("dev", { allow: { app_labels: { env: "dev" } } })],
    ["prod-only", role("prod-only", { allow: { app_labels: { env: "prod" } } })],
    ["no-web", role("no-web", { deny: { app_labels: { env: "*" } } })],
  ]);
  const locks: Lock[] = [];
  const apps = [webApp(), appTargetFromResource(appFromConfig({ name: "echo", uri: `tcp://127.0.0.1:${tcpPort}`, labels: { env: "dev" } }))];
  const service = new ApplicationService({
    hostId: "host-1",
    nodeName: "app-1",
    apps: () => apps,
    userCas: () => [userCa.certPem],
    getUser: async (n) => users.get(n),
    getRole: async (n) => roles.get(n),
    lockedBy: async (who) => {
      const l = findLock(locks, who, clock.now());
      return l ? `${l.spec.target.user ? `user ${l.spec.target.user}` : "role"} is locked: ${l.spec.message ?? ""}` : undefined;
    },
    appToken: async (r) => {
      tokenCalls.push({ username: r.username, uri: r.uri });
      const token = await signAppToken({
        key: jwtKey.privateKey,
        issuer: "example",
        audience: r.uri,
        username: r.username,
        roles: r.roles,
        traits: r.traits,
        clock,
      });
      return { token, expires: new Date(clock.now().getTime() + 5 * 60_000) };
    },
    audit: (e) => events.push(e),
    clock,
    log,
    sessionLingerMs: 100,
    ...over,
  });
  closers.push(() => service.close());
  const port = await listen(
    // Half-open like a tunnel channel: a client's end() still lets the answer come back.
    net.createServer({ allowHalfOpen: true }, (s) => {
      void service.handleConnection(s, { clientAddr: `${s.remoteAddress}:${s.remotePort}`, ...(dialTarget ? { target: dialTarget } : {}) });
    }),
  );
  return { service, events, tokenCalls, users, roles, locks, port, apps };
}

/** The proxy's part: a stream to the service with the header first. */
async function userCert(o: { app?: string; sid?: string; ca?: typeof userCa; ttlMs?: number; user?: string } = {}): Promise<string> {
  const ca = o.ca ?? userCa;
  const identity: Identity = {
    kind: "user",
    username: o.user ?? "alice",
    roles: ["dev"],
    logins: ["alice"],
    traits: { logins: ["alice"] },
    routeToApp: { name: o.app ?? "web", publicAddr: "web.proxy.example.com", clusterName: "example", sessionId: o.sid ?? "sess-1" },
    kubernetesGroups: [],
    kubernetesUsers: [],
    activeRequests: [],
    expires: new Date(clock.now().getTime() + 3600_000),
    systemRoles: [],
    clusterName: "example",
  };
  return issueClientCertificate({
    caCert: ca.certPem,
    caKey: ca.privateKey,
    publicKey: generateEcdsaP256().publicKey,
    identity,
    ttlMs: o.ttlMs ?? 3600_000,
    clock,
  });
}

function header(cert: string, over: Partial<AppConnHeader> = {}): AppConnHeader {
  return { cert, clientAddr: "203.0.113.7:51234", app: "web", publicAddr: "web.proxy.example.com", ...over };
}

/** An agent whose every connection is a fresh stream to the service, header first. */
function agentFor(port: number, h: AppConnHeader, keepAlive = true): http.Agent {
  const agent = new http.Agent({ keepAlive, maxSockets: 1 });
  (agent as unknown as { createConnection: () => net.Socket }).createConnection = () => {
    const s = net.connect(port, "127.0.0.1");
    s.write(encodeAppHeader(h));
    return s;
  };
  closers.push(() => agent.destroy());
  return agent;
}

function get(
  agent: http.Agent,
  path: string,
  headers: Record<string, string> = {},
  method = "GET",
  body?: Readable,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }> {
  return new Promise((resolve, reject) => {
    const r = http.request({ host: "web.proxy.example.com", path, method, agent, headers }, async (res) => {
      let text = "";
      for await (const c of res) text += String(c);
      resolve({ status: res.statusCode ?? 0, headers: res.headers, text });
    });
    r.on("error", reject);
    if (body) body.pipe(r);
    else r.end();
  });
}

/** Connects, sends `bytes`, resolves with what came back before the close. */
function rawExchange(port: number, bytes: Buffer): Promise<Buffer> {
  return new Promise((resolve) => {
    const s = net.connect(port, "127.0.0.1");
    const got: Buffer[] = [];
    s.on("data", (c: Buffer) => got.push(c));
    s.on("error", () => undefined);
    s.on("close", () => resolve(Buffer.concat(got)));
    s.write(bytes);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("Application Service: HTTP apps", () => {
  test("an allowed request reaches the app with the signed identity, without the app cookie, with rewrites", async () => {
    const w = await world();
    const agent = agentFor(w.port, header(await userCert()));
    const r = await get(agent, "/hello?q=1", {
      cookie: `a=1; ${APP_SESSION_COOKIE}=secret; b=2`,
      [APP_JWT_HEADER]: "forged",
      "x-login": "forged",
      "x-team": "forged",
      "x-forwarded-for": "1.2.3.4",
    });
    assert.equal(r.status, 200);
    const got = JSON.parse(r.text) as { url: string; headers: Record<string, string> };
    assert.equal(got.url, "/hello?q=1");
    assert.equal(got.headers.cookie, "a=1; b=2");
    const claims = await verifyAppToken(got.headers[APP_JWT_HEADER] ?? "", jwks, { audience: `http://127.0.0.1:${upPort}`, issuer: "example", clock });
    assert.equal(claims.username, "alice");
    assert.deepEqual(claims.roles, ["dev"]);
    assert.deepEqual(claims.traits, { logins: ["alice", "root"] });
    assert.equal(got.headers["x-login"], "alice, root");
    assert.equal(got.headers["x-team"], undefined, "a template that expands to nothing drops the header");
    assert.equal(got.headers["x-static"], "yes");
    assert.equal(got.headers["x-forwarded-host"], "web.proxy.example.com");
    assert.equal(got.headers["x-forwarded-for"], "203.0.113.7");
    assert.equal(got.headers["x-forwarded-proto"], "https");
    assert.equal(got.headers.host, `127.0.0.1:${upPort}`);
    const start = w.events.filter((e) => e.event === "app.session.start");
    assert.equal(start.length, 1);
    assert.equal(start[0]?.success, true);
    assert.equal(start[0]?.sid, "sess-1");
    assert.equal(start[0]?.app_name, "web");
    assert.equal(start[0]?.app_uri, `http://127.0.0.1:${upPort}`);
    assert.equal(start[0]?.app_public_addr, "web.proxy.example.com");
    assert.equal(start[0]?.addr_remote, "203.0.113.7:51234");
    const req = w.events.find((e) => e.event === "app.session.request");
    assert.ok(req);
    assert.equal(req.path, "/hello");
    assert.equal(req.method, "GET");
    assert.equal(req.status, 200);
    assert.equal(req.sid, "sess-1");
    assert.equal(typeof req.duration_ms, "number");
  });

  test("redirects to the app's own host and to rewrite.redirect hosts go back to the public address", async () => {
    const w = await world();
    const agent = agentFor(w.port, header(await userCert()));
    const a = await get(agent, "/redirect");
    assert.equal(a.status, 302);
    assert.equal(a.headers.location, "https://web.proxy.example.com/after?x=1");
    const b = await get(agent, "/self-redirect");
    assert.equal(b.headers.location, "https://web.proxy.example.com/self");
  });

  test("the JWT is signed once per app session, not per request or stream", async () => {
    const w = await world();
    const h = header(await userCert({ sid: "sess-cache" }));
    const keep = agentFor(w.port, h);
    for (let i = 0; i < 5; i++) assert.equal((await get(keep, `/n${i}`)).status, 200);
    const fresh = agentFor(w.port, h, false);
    await Promise.all(Array.from({ length: 5 }, (_, i) => get(fresh, `/m${i}`)));
    assert.equal(w.tokenCalls.length, 1);
    // Near expiry a new token is fetched.
    clock.advance(4.5 * 60_000);
    assert.equal((await get(keep, "/later")).status, 200);
    assert.equal(w.tokenCalls.length, 2);
    assert.equal(w.events.filter((e) => e.event === "app.session.start").length, 1);
  });

  test("request events can be switched off", async () => {
    const w = await world({ auditRequests: false });
    const agent = agentFor(w.port, header(await userCert()));
    assert.equal((await get(agent, "/quiet")).status, 200);
    assert.equal(w.events.filter((e) => e.event === "app.session.request").length, 0);
    assert.equal(w.events.filter((e) => e.event === "app.session.start").length, 1);
  });

  test("an app session starts with its first stream and ends after its last closed for the linger time", async () => {
    const w = await world();
    const h = header(await userCert({ sid: "sess-life" }));
    const one = agentFor(w.port, h, false);
    await get(one, "/a");
    await get(one, "/b");
    await sleep(30);
    assert.equal(w.events.filter((e) => e.event === "app.session.start").length, 1);
    await sleep(250);
    const end = w.events.filter((e) => e.event === "app.session.end");
    assert.equal(end.length, 1);
    assert.equal(end[0]?.sid, "sess-life");
    assert.equal(end[0]?.user, "alice");
    // A stream after the end starts a new session record; closing the service ends it.
    const two = agentFor(w.port, h);
    await get(two, "/c");
    w.service.close();
    assert.equal(w.events.filter((e) => e.event === "app.session.end").length, 2);
  });

  test("a 5 MB upload streams through intact", async () => {
    const w = await world();
    const agent = agentFor(w.port, header(await userCert()));
    const chunk = Buffer.alloc(64 * 1024);
    for (let i = 0; i < chunk.length; i++) chunk[i] = i % 251;
    const parts = Array.from({ length: 80 }, () => chunk);
    const want = createHash("sha256");
    for (const p of parts) want.update(p);
    const r = await get(agent, "/upload", { "content-type": "application/octet-stream" }, "POST", Readable.from(parts));
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.text), { bytes: 5 * MB, sha: want.digest("hex") });
  });

  test("WebSocket messages echo through", async () => {
    const w = await world();
    const h = header(await userCert());
    const ws = new WebSocket("ws://web.proxy.example.com/ws", {
      createConnection: () => {
        const s = net.connect(w.port, "127.0.0.1");
        s.write(encodeAppHeader(h));
        return s;
      },
    } as ClientOptions);
    await once(ws, "open");
    ws.send("hello");
    const [msg] = (await once(ws, "message")) as [Buffer];
    assert.equal(msg.toString(), "hello");
    ws.send(Buffer.alloc(200_000, 7));
    const [big] = (await once(ws, "message")) as [Buffer];
    assert.equal(big.length, 200_000);
    ws.close();
    await once(ws, "close");
  });

  test("a stream that is not a socket (a tunnel channel) carries keep-alive requests", async () => {
    const w = await world();
    const [near, far] = duplexPair();
    void w.service.handleConnection(far, { clientAddr: "203.0.113.9:1", target: "app:web" });
    near.write(encodeAppHeader(header(await userCert())));
    near.write("GET /one HTTP/1.1\r\nHost: web\r\n\r\nGET /two HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n");
    let text = "";
    for await (const c of near) text += String(c);
    assert.equal(text.match(/HTTP\/1.1 200 OK/g)?.length, 2);
    assert.match(text, /"url":"\/one"/);
    assert.match(text, /"url":"\/two"/);
  });
});

describe("Application Service: refusals", () => {
  const refusedWith = async (w: World, h: AppConnHeader, re: RegExp) => {
    const r = await get(agentFor(w.port, h, false), "/");
    assert.equal(r.status, 403);
    assert.match(r.headers["content-type"] ?? "", /text\/html/);
    assert.match(r.text, re);
    const e = w.events.find((x) => x.event === "app.session.start");
    assert.ok(e);
    assert.equal(e.success, false);
    assert.match(String(e.error), re);
    assert.equal(e.app_name, h.app);
    assert.equal(e.addr_remote, h.clientAddr);
    assert.equal(w.tokenCalls.length, 0);
    return e;
  };

  test("a certificate for another app", async () => {
    const w = await world();
    const e = await refusedWith(w, header(await userCert({ app: "other" })), /this certificate is for app other, not web/);
    assert.equal(e.user, "alice");
  });

  test("an expired certificate", async () => {
    const w = await world();
    const cert = await userCert({ ttlMs: 60_000 });
    clock.advance(2 * 60_000);
    await refusedWith(w, header(cert), /client certificate refused/);
  });

  test("a certificate from another CA", async () => {
    const w = await world();
    await refusedWith(w, header(await userCert({ ca: foreignCa })), /client certificate refused/);
  });

  test("roles whose app_labels do not match", async () => {
    const w = await world();
    w.users.set("alice", { roles: ["prod-only"], traits: {} });
    await refusedWith(w, header(await userCert()), /access to app web denied/);
  });

  test("deny beats allow", async () => {
    const w = await world();
    w.users.set("alice", { roles: ["dev", "no-web"], traits: {} });
    await refusedWith(w, header(await userCert()), /access to app web denied/);
  });

  test("a lock on the user", async () => {
    const w = await world();
    w.locks.push(
      parseResourceOf("lock", { kind: "lock", version: "v2", metadata: { name: "l1" }, spec: { target: { user: "alice" }, message: "incident 42" } }),
    );
    await refusedWith(w, header(await userCert()), /locked: incident 42/);
  });

  test("a lock taken while a keep-alive stream is open stops the next request", async () => {
    const w = await world({ recheckMs: 0 });
    const agent = agentFor(w.port, header(await userCert()));
    assert.equal((await get(agent, "/before")).status, 200);
    w.locks.push(parseResourceOf("lock", { kind: "lock", version: "v2", metadata: { name: "l2" }, spec: { target: { role: "dev" } } }));
    const r = await get(agent, "/after");
    assert.equal(r.status, 403);
    assert.match(r.text, /locked/);
  });

  test("an app not served here, and a dial target that does not match the header", async () => {
    const w = await world();
    await refusedWith(w, header(await userCert({ app: "ghost" }), { app: "ghost" }), /app ghost is not served by app-1/);
    const routed = await world({}, "app:echo");
    await refusedWith(routed, header(await userCert()), /the proxy routed a stream for app web to echo/);
  });

  test("malformed, oversized and missing headers close the stream, and the service goes on", async () => {
    const w = await world({ headerTimeoutMs: 200 });
    assert.equal((await rawExchange(w.port, Buffer.from("GET / HTTP/1.1\r\n\r\n"))).length, 0);
    const huge = Buffer.alloc(8);
    Buffer.from("JGAP").copy(huge);
    huge.writeUInt32BE(10 * MB, 4);
    assert.equal((await rawExchange(w.port, huge)).length, 0);
    const badJson = Buffer.concat([Buffer.from("JGAP"), Buffer.from([0, 0, 0, 3]), Buffer.from("{x}")]);
    assert.equal((await rawExchange(w.port, badJson)).length, 0);
    assert.equal((await rawExchange(w.port, Buffer.from("JG"))).length, 0, "times out");
    assert.equal(w.events.length, 0);
    assert.equal((await get(agentFor(w.port, header(await userCert())), "/still")).status, 200);
  });
});

describe("Application Service: TCP apps", () => {
  test("bytes echo through, each connection its own session", async () => {
    const w = await world();
    const h = header(await userCert({ app: "echo", sid: "sess-tcp" }), { app: "echo", publicAddr: "" });
    for (const msg of ["ping", "pong"]) {
      const got = await rawExchangeHalfClose(w.port, Buffer.concat([encodeAppHeader(h), Buffer.from(msg)]));
      assert.equal(got.toString(), msg);
    }
    await sleep(50);
    const starts = w.events.filter((e) => e.event === "app.session.start");
    const ends = w.events.filter((e) => e.event === "app.session.end");
    assert.equal(starts.length, 2);
    assert.equal(ends.length, 2);
    assert.notEqual(starts[0]?.sid, starts[1]?.sid);
    assert.equal(starts[0]?.app_session_id, "sess-tcp");
    assert.equal(ends[0]?.bytes_in, 4);
  });

  test("a refused TCP stream is closed without an answer", async () => {
    const w = await world();
    w.users.set("alice", { roles: ["prod-only"], traits: {} });
    const h = header(await userCert({ app: "echo" }), { app: "echo", publicAddr: "" });
    const got = await rawExchange(w.port, Buffer.concat([encodeAppHeader(h), Buffer.from("data")]));
    assert.equal(got.length, 0);
    assert.equal(w.events[0]?.success, false);
  });
});

/** Sends, half-closes, reads until the other side closes. */
function rawExchangeHalfClose(port: number, bytes: Buffer): Promise<Buffer> {
  return new Promise((resolve) => {
    const s = net.connect(port, "127.0.0.1");
    const got: Buffer[] = [];
    s.on("data", (c: Buffer) => got.push(c));
    s.on("close", () => resolve(Buffer.concat(got)));
    s.end(bytes);
  });
}

/** Two connected in-memory streams (what a tunnel channel looks like: no socket methods). */
function duplexPair(): [Duplex, Duplex] {
  const aToB = new PassThrough();
  const bToA = new PassThrough();
  const make = (readFrom: PassThrough, writeTo: PassThrough) =>
    new Duplex({
      read() {
        readFrom.resume();
      },
      write(chunk, enc, cb) {
        writeTo.write(chunk, enc, cb);
      },
      final(cb) {
        writeTo.end();
        cb();
      },
    });
  const a = make(bToA, aToB);
  const b = make(aToB, bToA);
  for (const [d, src] of [
    [a, bToA],
    [b, aToB],
  ] as const) {
    src.on("data", (c: Buffer) => {
      if (!d.push(c)) src.pause();
    });
    src.on("end", () => d.push(null));
  }
  return [a, b];
}
