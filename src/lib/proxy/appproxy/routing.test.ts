import assert from "node:assert/strict";
import { once } from "node:events";
import https from "node:https";
import { after, before, describe, test } from "node:test";
import tls from "node:tls";
import type { AuthClient } from "../../../api/authclient.ts";
import { testLog, testTls } from "../proxy.test-helpers.ts";
import { type ProxyService, startProxy } from "../service.ts";

describe("the proxy's one port routes app hosts and app ALPN protocols", () => {
  let proxy: ProxyService;
  before(async () => {
    const t = await testTls();
    proxy = await startProxy({
      host: "127.0.0.1",
      port: 0,
      publicAddr: "localhost:3080",
      tls: { cert: t.cert, key: t.key },
      auth: {} as AuthClient,
      authAddr: { host: "127.0.0.1", port: 1 },
      log: testLog(),
      appProxy: {
        isAppHost: (sni) => (sni === "wiki.corp.test" ? Promise.resolve(true) : sni === "grafana.localhost"),
        handle: (req, res) => res.end(`app ${req.headers.host}`),
        upgrade: (_req, socket) => socket.destroy(),
        handleAlpn: (stream, info) => stream.end(`alpn ${info.alpn}`),
      },
    });
  });
  after(() => proxy.close());

  const get = (sni: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      https
        .get(
          { host: "127.0.0.1", port: proxy.port, path: "/webapi/nothing-here", servername: sni, headers: { host: sni }, rejectUnauthorized: false },
          (res) => {
            let body = "";
            res.on("data", (c: Buffer) => {
              body += c.toString();
            });
            res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
          },
        )
        .on("error", reject);
    });

  test("SNI of an app host (sync or looked up) → the app server; anything else → the web server", async () => {
    assert.deepEqual(await get("grafana.localhost"), { status: 200, body: "app grafana.localhost" });
    assert.deepEqual(await get("wiki.corp.test"), { status: 200, body: "app wiki.corp.test" });
    const web = await get("localhost");
    assert.equal(web.status, 404);
    assert.match(web.body, /"not-found"/);
  });

  test("jumpgate-app and jumpgate-tcp reach the CLI route", async () => {
    for (const alpn of ["jumpgate-app", "jumpgate-tcp"]) {
      const s = tls.connect({ host: "127.0.0.1", port: proxy.port, servername: "localhost", ALPNProtocols: [alpn], rejectUnauthorized: false });
      let got = "";
      s.on("data", (c: Buffer) => {
        got += c.toString();
      });
      await once(s, "end");
      s.destroy();
      assert.equal(got, `alpn ${alpn}`);
    }
  });
});
