import assert from "node:assert/strict";
import http, { type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import pino from "pino";
import type { AuthClient } from "../../../api/authclient.ts";
import { FakeClock } from "../../../api/clock.ts";
import { accessDenied, unauthenticated } from "../../../api/errors.ts";
import { WebSessionSchema } from "../../../api/gen/jumpgate/v1/auth_pb.ts";
import { createWebServer, type WebServer } from "./server.ts";
import { originAllowed, readSessionCookie, requireCsrf } from "./session.ts";

const COOKIE = "c00kie-value";
const CSRF = "the-csrf-token";

/** Auth as the proxy sees it: three web-session calls, counted. */
function fakeAuth(clock: FakeClock) {
  const calls = { create: 0, authenticate: 0, delete: 0 };
  let alive = true;
  const session = () =>
    create(WebSessionSchema, {
      id: "sid-1",
      user: "alice",
      roles: ["access"],
      csrfToken: CSRF,
      expires: new Date(clock.now().getTime() + 12 * 3600_000).toISOString(),
      idleExpires: new Date(clock.now().getTime() + 1800_000).toISOString(),
      idleTimeoutSeconds: 1800n,
      clusterName: "unit.test",
      acl: { audit: true },
    });
  const auth = {
    createWebSession: async (req: { password: string }) => {
      calls.create++;
      if (req.password !== "right") throw accessDenied("invalid username, password or second factor");
      alive = true;
      return { ...session(), cookie: COOKIE };
    },
    authenticateWebSession: async (req: { cookie: string }) => {
      calls.authenticate++;
      if (req.cookie !== COOKIE || !alive) throw unauthenticated("your session has expired, sign in again");
      return session();
    },
    deleteWebSession: async () => {
      calls.delete++;
      alive = false;
      return {};
    },
  };
  return { auth: auth as unknown as AuthClient, calls };
}

describe("web session layer", () => {
  const clock = new FakeClock(new Date());
  const { auth, calls } = fakeAuth(clock);
  let web: WebServer;
  let server: http.Server;
  let base = "";
  before(async () => {
    web = createWebServer({ auth, log: pino({ level: "silent" }), publicAddr: "proxy.test:3080", authAddr: "127.0.0.1:1", clock });
    server = http.createServer(web.handle);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    web.close();
    await new Promise<void>((r) => server.close(() => r()));
  });

  const req = (method: string, path: string, headers: Record<string, string> = {}, body?: unknown) =>
    fetch(`${base}${path}`, {
      method,
      headers: { ...headers, ...(body ? { "content-type": "application/json" } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
  const withCookie = { cookie: `other=1; __Host-jumpgate_session=${COOKIE}` };

  test("sign-in sets the cookie HttpOnly, Secure, SameSite=Strict, Path=/ and returns the CSRF token", async () => {
    const r = await req("POST", "/webapi/sessions", {}, { user: "alice", password: "right", otp: "123456" });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("set-cookie"), `__Host-jumpgate_session=${COOKIE}; Path=/; HttpOnly; Secure; SameSite=Strict`);
    assert.equal(r.headers.get("cache-control"), "no-store");
    const body = (await r.json()) as Record<string, unknown>;
    assert.deepEqual(body, { user: "alice", roles: ["access"], csrf_token: CSRF, expires: body.expires, idle_timeout_seconds: 1800 });
    const bad = await req("POST", "/webapi/sessions", {}, { user: "alice", password: "wrong", otp: "1" });
    assert.equal(bad.status, 403);
    assert.equal(((await bad.json()) as { error: { message: string } }).error.message, "invalid username, password or second factor");
  });

  test("a sign-in from another site's page is refused by its Origin", async () => {
    const r = await req("POST", "/webapi/sessions", { origin: "https://evil.example" }, { user: "alice", password: "right" });
    assert.equal(r.status, 403);
    const same = await req("POST", "/webapi/sessions", { origin: "https://proxy.test:3080" }, { user: "alice", password: "right" });
    assert.equal(same.status, 200);
  });

  test("current session: 200 with acl; cached, so Auth is asked once per few seconds", async () => {
    const before = calls.authenticate;
    for (let i = 0; i < 3; i++) {
      const r = await req("GET", "/webapi/sessions/current", withCookie);
      assert.equal(r.status, 200);
      const b = (await r.json()) as { acl: Record<string, boolean>; cluster_name: string };
      assert.equal(b.cluster_name, "unit.test");
      assert.deepEqual(b.acl, { users: false, roles: false, tokens: false, audit: true, recordings: false, sessions: false });
    }
    assert.equal(calls.authenticate - before, 1);
    clock.advance(10_000);
    await req("GET", "/webapi/sessions/current", withCookie);
    assert.equal(calls.authenticate - before, 2);
  });

  test("no cookie or an unknown one: 401 unauthenticated, and the dead cookie is cleared", async () => {
    const none = await req("GET", "/webapi/sessions/current");
    assert.equal(none.status, 401);
    assert.equal(((await none.json()) as { error: { kind: string } }).error.kind, "unauthenticated");
    const dead = await req("GET", "/webapi/sessions/current", { cookie: "__Host-jumpgate_session=nope" });
    assert.equal(dead.status, 401);
    assert.match(dead.headers.get("set-cookie") ?? "", /^__Host-jumpgate_session=; .*Max-Age=0/);
  });

  test("state-changing requests with the cookie need the CSRF token: missing or wrong → 403", async () => {
    const missing = await req("DELETE", "/webapi/sessions/current", withCookie);
    assert.equal(missing.status, 403);
    assert.deepEqual(await missing.json(), { error: { kind: "access-denied", message: "missing or invalid CSRF token" } });
    const wrong = await req("DELETE", "/webapi/sessions/current", { ...withCookie, "x-csrf-token": "guess" });
    assert.equal(wrong.status, 403);
    assert.equal(calls.delete, 0);
    const ok = await req("DELETE", "/webapi/sessions/current", { ...withCookie, "x-csrf-token": CSRF });
    assert.equal(ok.status, 204);
    assert.match(ok.headers.get("set-cookie") ?? "", /Max-Age=0/);
    assert.equal(calls.delete, 1);
    const after = await req("GET", "/webapi/sessions/current", withCookie);
    assert.equal(after.status, 401, "sign-out drops the cached session at once");
  });

  test("unknown API paths are 404 JSON", async () => {
    const r = await req("GET", "/webapi/nothing-here");
    assert.equal(r.status, 404);
  });
});

describe("session helpers", () => {
  const fakeReq = (headers: Record<string, string>, method = "GET") => ({ headers, method }) as unknown as IncomingMessage;

  test("the cookie is read among others, and only by its exact name", () => {
    assert.equal(readSessionCookie(fakeReq({ cookie: "a=1; __Host-jumpgate_session=xyz; b=2" })), "xyz");
    assert.equal(readSessionCookie(fakeReq({ cookie: "jumpgate_session=xyz" })), undefined);
    assert.equal(readSessionCookie(fakeReq({})), undefined);
  });

  test("Origin: absent, the public address (443 elided) or the requested host pass; anything else fails", () => {
    assert.ok(originAllowed(fakeReq({}), "p.example:443"));
    assert.ok(originAllowed(fakeReq({ origin: "https://p.example" }), "p.example:443"));
    assert.ok(originAllowed(fakeReq({ origin: "https://localhost:3080", host: "localhost:3080" }), "p.example:443"));
    assert.ok(!originAllowed(fakeReq({ origin: "http://p.example" }), "p.example:443"));
    assert.ok(!originAllowed(fakeReq({ origin: "https://evil.example", host: "p.example" }), "p.example:443"));
    assert.ok(!originAllowed(fakeReq({ origin: "null" }), "p.example:443"));
  });

  test("CSRF is checked only on state-changing methods", () => {
    assert.doesNotThrow(() => requireCsrf(fakeReq({}, "GET"), "t"));
    for (const m of ["POST", "PUT", "PATCH", "DELETE"]) {
      assert.throws(() => requireCsrf(fakeReq({}, m), "t"), /missing or invalid CSRF token/);
      assert.throws(() => requireCsrf(fakeReq({ "x-csrf-token": "u" }, m), "t"), /missing or invalid CSRF token/);
      assert.doesNotThrow(() => requireCsrf(fakeReq({ "x-csrf-token": "t" }, m), "t"));
    }
  });
});
