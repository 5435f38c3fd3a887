import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import pino from "pino";
import type { AuthClient } from "../../../api/authclient.ts";
import { FakeClock } from "../../../api/clock.ts";
import { accessDenied, notFound, unauthenticated } from "../../../api/errors.ts";
import { AppSessionSchema } from "../../../api/gen/jumpgate/v1/auth_pb.ts";
import { createWebServer, type WebServer } from "../web/server.ts";
import { type LaunchRequest, launchApp } from "./launch.ts";

async function serve(handler: http.RequestListener): Promise<{ base: string; close(): void }> {
  const server = http.createServer(handler);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

describe("launch route", () => {
  const asked: string[] = [];
  const client: LaunchRequest["client"] = {
    createAppSession: (async (req: { appName?: string }) => {
      asked.push(req.appName ?? "");
      if (req.appName === "secret") throw accessDenied("access to app secret denied: no role allows it");
      if (req.appName === "gone") throw notFound("app gone is not registered");
      return create(AppSessionSchema, {
        id: "s1",
        appName: req.appName ?? "",
        launchToken: "tok/1",
        publicAddr: req.appName === "wiki" ? "wiki.corp.test:8443" : `${req.appName}.localhost`,
        expires: new Date(Date.now() + 3600_000).toISOString(),
      });
    }) as unknown as AuthClient["createAppSession"],
  };
  let srv: { base: string; close(): void };
  let current: Omit<LaunchRequest, "here" | "path"> = { app: "", proxyPublicAddr: "localhost:3080", client };
  before(async () => {
    srv = await serve((req, res) => {
      const url = new URL(req.url ?? "/", "http://x");
      launchApp(res, { ...current, path: url.searchParams.get("path"), here: `${url.pathname}${url.search}` }).catch(() => {
        res.statusCode = 500;
        res.end();
      });
    });
  });
  after(() => srv.close());

  const get = (path: string) => fetch(`${srv.base}${path}`, { redirect: "manual" });

  test("opens an app session as the user and sends the browser to the app's host with the token", async () => {
    current = { app: "grafana", proxyPublicAddr: "localhost:3080", client };
    const r = await get("/web/launch/grafana?path=%2Fd%2F1%3Fx%3D2");
    assert.equal(r.status, 302);
    assert.equal(r.headers.get("location"), "https://grafana.localhost:3080/x-jumpgate-app-auth?token=tok%2F1&path=%2Fd%2F1%3Fx%3D2");
    assert.equal(asked.at(-1), "grafana");
    current = { app: "wiki", proxyPublicAddr: "localhost:3080", client };
    const w = await get("/web/launch/wiki?path=https://evil.example/");
    assert.equal(w.headers.get("location"), "https://wiki.corp.test:8443/x-jumpgate-app-auth?token=tok%2F1&path=%2F");
  });

  test("Auth's refusal is a page with its one line", async () => {
    current = { app: "secret", proxyPublicAddr: "localhost:3080", client };
    const r = await get("/web/launch/secret");
    assert.equal(r.status, 403);
    assert.match(r.headers.get("content-type") ?? "", /text\/html/);
    assert.match(await r.text(), /<p id="reason">access to app secret denied: no role allows it<\/p>/);
    current = { app: "gone", proxyPublicAddr: "localhost:3080", client };
    assert.equal((await get("/web/launch/gone")).status, 404);
  });

  test("without a session: to the sign-in page, which comes back here", async () => {
    current = { app: "grafana", proxyPublicAddr: "localhost:3080", client: undefined };
    const r = await get("/web/launch/grafana?path=%2Fx");
    assert.equal(r.status, 302);
    assert.equal(r.headers.get("location"), "/web/login?next=%2Fweb%2Flaunch%2Fgrafana%3Fpath%3D%252Fx");
  });
});

describe("launch route in the web server", () => {
  let web: WebServer;
  let srv: { base: string; close(): void };
  before(async () => {
    const auth = {
      authenticateWebSession: async () => {
        throw unauthenticated("your session has expired, sign in again");
      },
    } as unknown as AuthClient;
    web = createWebServer({ auth, log: pino({ level: "silent" }), publicAddr: "localhost:3080", authAddr: "127.0.0.1:1", clock: new FakeClock(new Date()) });
    srv = await serve(web.handle);
  });
  after(() => {
    web.close();
    srv.close();
  });

  test("no cookie or a dead one: sign in first (no CSRF token needed); the dead cookie is cleared", async () => {
    const none = await fetch(`${srv.base}/web/launch/grafana?path=/a`, { redirect: "manual" });
    assert.equal(none.status, 302);
    assert.equal(none.headers.get("location"), "/web/login?next=%2Fweb%2Flaunch%2Fgrafana%3Fpath%3D%2Fa");
    const dead = await fetch(`${srv.base}/web/launch/grafana`, { redirect: "manual", headers: { cookie: "__Host-jumpgate_session=old" } });
    assert.equal(dead.status, 302);
    assert.match(dead.headers.get("set-cookie") ?? "", /^__Host-jumpgate_session=;.*Max-Age=0/);
    const bad = await fetch(`${srv.base}/web/launch/Not_An_App`, { redirect: "manual" });
    assert.notEqual(bad.status, 302);
  });
});
