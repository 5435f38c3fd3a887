import assert from "node:assert/strict";
import { once } from "node:events";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import net, { type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { pino } from "pino";
import { APP_JWT_HEADER, encodeAppHeader } from "../../api/appwire.ts";
import { jwtCaJwks } from "../auth/appjwt.ts";
import { startTestApi } from "../auth/testing/api.ts";
import { authFixture } from "../auth/testing/fixture.ts";
import { validateResource } from "../auth/validate.ts";
import { generateKeySet, verifyAppToken } from "../crypto/index.ts";
import { type AppPart, startAppPart } from "./app-part.ts";

type Fixture = Awaited<ReturnType<typeof authFixture>>;
type Api = Awaited<ReturnType<typeof startTestApi>>;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function eventually<T>(what: string, f: () => Promise<T | undefined>, ms = 5_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > until) assert.fail(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe("the Application Service part against a real Auth API", () => {
  let f: Fixture;
  let api: Api;
  let part: AppPart;
  let dataDir: string;
  let upstream: http.Server;
  let uri: string;
  const received: http.IncomingHttpHeaders[] = [];

  before(async () => {
    f = await authFixture({ secondFactor: "off" }, new Date());
    api = await startTestApi(f.server);
    await f.ctx.stores.roles.upsert(
      validateResource({ kind: "role", version: "v7", metadata: { name: "dev-apps" }, spec: { allow: { app_labels: { env: "dev" } } } }),
    );
    await f.addUser("dana", ["dev-apps"], { logins: ["dana"] });
    for (const [name, team] of [
      ["wiki", "a"],
      ["ignored", "b"],
    ]) {
      await f.ctx.stores.apps.upsert(
        validateResource({ kind: "app", version: "v3", metadata: { name, labels: { team, env: "dev" } }, spec: { uri: "http://127.0.0.1:1" } }),
      );
    }
    upstream = http.createServer((req, res) => {
      received.push(req.headers);
      res.end("hello from the app");
    });
    upstream.listen(0, "127.0.0.1");
    await once(upstream, "listening");
    uri = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    dataDir = mkdtempSync(join(tmpdir(), "jg-app-part-"));
    part = await startAppPart({
      dataDir,
      nodeName: "app-agent",
      apps: [{ name: "web", uri, labels: { env: "dev" }, dynamic_labels: [{ name: "arch", command: ["echo", "x86"], periodMs: 60_000 }] }],
      resources: [{ labels: { team: "a" } }],
      log: pino({ level: "silent" }),
      // No proxy listens there: the tunnel keeps retrying, which these tests do not need.
      local: { server: f.server, authAddr: api.addr, proxyAddr: "127.0.0.1:9" },
    });
  });

  after(async () => {
    await part?.close();
    upstream?.closeAllConnections();
    upstream?.close();
    await api?.close();
    await f?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  test("heartbeats app_server entries for configured apps and matching app resources, under its own host id", async () => {
    assert.equal(readFileSync(join(dataDir, "app", "host_uuid"), "utf8").trim(), part.hostId);
    const entries = await eventually("app_server entries", async () => {
      const all = await f.ctx.stores.appServers.list();
      return all.length >= 2 ? all : undefined;
    });
    const names = entries.map((e) => e.metadata.name).sort();
    assert.deepEqual(names, [`web@${part.hostId}`, `wiki@${part.hostId}`]);
    const web = entries.find((e) => e.metadata.name.startsWith("web@"));
    const spec = web?.spec as { hostname: string; app: { spec: { uri: string; dynamic_labels: Record<string, { result?: string }> } } };
    assert.equal(spec.hostname, "app-agent");
    assert.equal(spec.app.spec.uri, uri);
    assert.equal(spec.app.spec.dynamic_labels.arch?.result, "x86");
  });

  test("a stream with a certificate from Auth reaches the app with a JWT that Auth signed; events reach Auth", async () => {
    await eventually("web app_server", async () => ((await f.ctx.stores.appServers.list()).length >= 2 ? true : undefined));
    const dana = await api.asUser("dana");
    const k = generateKeySet();
    const certs = await dana.generateUserCerts({ sshPublicKey: k.sshPublicKey, tlsPublicKey: k.tlsPublicKey, routeToApp: { name: "web" } });
    const listener = net.createServer((s) => void part.handleConnection(s, { clientAddr: "198.51.100.1:4000", target: "app:web" }));
    listener.listen(0, "127.0.0.1");
    await once(listener, "listening");
    const port = (listener.address() as AddressInfo).port;
    try {
      const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const r = http.request(
          {
            path: "/",
            createConnection: () => {
              const s = net.connect(port, "127.0.0.1");
              s.write(encodeAppHeader({ cert: certs.tlsCert, clientAddr: "198.51.100.1:4000", app: "web", publicAddr: "web.proxy.unit.test" }));
              return s;
            },
          },
          async (m) => {
            let body = "";
            for await (const c of m) body += String(c);
            resolve({ status: m.statusCode ?? 0, body });
          },
        );
        r.on("error", reject);
        r.end();
      });
      assert.equal(res.status, 200, res.body);
      assert.equal(res.body, "hello from the app");
      const token = String(received.at(-1)?.[APP_JWT_HEADER] ?? "");
      const claims = await verifyAppToken(token, jwtCaJwks(f.ctx), { audience: uri, issuer: "unit.test" });
      assert.equal(claims.username, "dana");
      assert.deepEqual(claims.roles, ["dev-apps"]);
      assert.deepEqual(claims.traits.logins, ["dana"]);
      const start = await eventually("app.session.start in Auth", async () => (await f.auditEvents("app.session.start"))[0]);
      assert.equal(start.code, "T2007I");
      assert.equal(start.user, "dana");
      assert.equal(start.app_name, "web");
      await eventually("app.session.request in Auth", async () => (await f.auditEvents("app.session.request"))[0]);
      assert.ok(existsSync(join(dataDir, "app", "audit-queue.jsonl")));
    } finally {
      listener.close();
    }
  });
});
