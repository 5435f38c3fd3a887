import assert from "node:assert/strict";
import { once } from "node:events";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { createRemoteJWKSet, jwtVerify } from "jose";
import pino from "pino";
import type { AuthClient } from "../../../api/authclient.ts";
import { signAppJwt } from "../../auth/appjwt.ts";
import { startTestApi } from "../../auth/testing/api.ts";
import { authFixture } from "../../auth/testing/fixture.ts";
import { createWebServer, type WebServer } from "./server.ts";

describe("GET /.well-known/jwks.json on the proxy", () => {
  let f: Awaited<ReturnType<typeof authFixture>>;
  let api: Awaited<ReturnType<typeof startTestApi>>;
  let web: WebServer;
  let server: http.Server;
  let base = "";
  let exports = 0;
  before(async () => {
    f = await authFixture({}, new Date());
    api = await startTestApi(f.server);
    const proxyClient = await api.asHost("proxy");
    // The proxy's own Auth client, counting the calls that reach Auth.
    const auth = new Proxy(proxyClient, {
      get(target, prop, recv) {
        if (prop === "exportAuthorities") exports++;
        return Reflect.get(target, prop, recv);
      },
    }) as AuthClient;
    web = createWebServer({ auth, log: pino({ level: "silent" }), publicAddr: "proxy.test:3080", authAddr: api.addr, distDir: "/nonexistent" });
    server = http.createServer((req, res) => web.handle(req, res));
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    web?.close();
    server?.closeAllConnections();
    server?.close();
    await api?.close();
    await f?.close();
  });

  test("serves the jwt CA's keys, cacheable for a minute, fetched from Auth once", async () => {
    const r = await fetch(`${base}/.well-known/jwks.json`);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("cache-control"), "public, max-age=60");
    assert.match(r.headers.get("content-type") ?? "", /^application\/json/);
    const jwks = (await r.json()) as { keys: Array<{ kty: string; alg: string; kid: string; use: string }> };
    assert.equal(jwks.keys.length, 1);
    assert.deepEqual([jwks.keys[0]?.kty, jwks.keys[0]?.alg, jwks.keys[0]?.use], ["EC", "ES256", "sig"]);
    await (await fetch(`${base}/.well-known/jwks.json`)).arrayBuffer();
    assert.equal(exports, 1, "the second request is served from the cache");
  });

  test("a token signed with the jwt CA verifies against the served JWKS, as an app would check it", async () => {
    const token = await signAppJwt(f.ctx, { username: "alice", roles: ["access"], traits: { logins: ["alice"] }, audience: "http://127.0.0.1:3000" });
    const keys = createRemoteJWKSet(new URL(`${base}/.well-known/jwks.json`));
    const { payload } = await jwtVerify(token, keys, { issuer: "unit.test", audience: "http://127.0.0.1:3000" });
    assert.equal(payload.username, "alice");
    assert.deepEqual(payload.roles, ["access"]);
  });
});
