import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { AppCert, AppInfo } from "../../lib/client/index.ts";
import { appConfig, parseAppConfigFormat, parsePort, renderAppConfig, renderApps } from "./apps.ts";
import { appCredentialSource, proxyAppBanner } from "./proxy-app.ts";

const cert = (o: Partial<AppCert> = {}): AppCert => ({
  name: "grafana",
  paths: { key: "/h/.jsh/keys/p/alice-app/c/grafana.key", cert: "/h/.jsh/keys/p/alice-app/c/grafana.crt", ca: "/h/.jsh/keys/p/cas/c.pem" },
  route: { name: "grafana", publicAddr: "grafana.proxy.example.com", clusterName: "c", sessionId: "s1" },
  expires: new Date("2026-06-01T12:00:00.000Z"),
  key: "KEY",
  cert: "CERT",
  cas: ["CA"],
  ...o,
});

describe("jsh apps", () => {
  it("ls: a table of name, description, type, public address and labels; > marks apps logged in to", () => {
    const rows: AppInfo[] = [
      { name: "grafana", description: "Dashboards", type: "http", publicAddr: "grafana.proxy.example.com", labels: { env: "dev", a: "1" } },
      { name: "redis", description: "", type: "tcp", publicAddr: "redis.proxy.example.com", labels: {} },
    ];
    const text = renderApps(rows, "text", ["redis"]).split("\n");
    assert.match(text[0] ?? "", /^Name +Description +Type +Public Address +Labels$/);
    assert.match(text[2] ?? "", /^grafana +Dashboards +http +grafana\.proxy\.example\.com +a=1,env=dev$/);
    assert.match(text[3] ?? "", /^> redis +tcp +redis\.proxy\.example\.com$/);
    const json = JSON.parse(renderApps(rows, "json", ["redis"]));
    assert.deepEqual(json[1], { name: "redis", description: "", type: "tcp", public_addr: "redis.proxy.example.com", labels: {}, logged_in: true });
    assert.match(renderApps(rows, "yaml"), /public_addr: grafana\.proxy\.example\.com/);
  });

  it("config: paths, the public URI with the proxy's port, and the local-proxy commands", () => {
    const cfg = appConfig({ proxy: "proxy.example.com:3080" }, cert(), 9000);
    assert.equal(cfg.uri, "https://grafana.proxy.example.com:3080");
    assert.equal(appConfig({ proxy: "proxy.example.com:443" }, cert()).uri, "https://grafana.proxy.example.com");
    assert.equal(appConfig({ proxy: "p:3080" }, cert({ route: { ...cert().route, publicAddr: "g.example.com:8443" } })).uri, "https://g.example.com:8443");
    assert.equal(renderAppConfig(cfg, "uri"), "https://grafana.proxy.example.com:3080");
    assert.equal(renderAppConfig(cfg, "ca"), "/h/.jsh/keys/p/cas/c.pem");
    assert.equal(renderAppConfig(cfg, "cert"), "/h/.jsh/keys/p/alice-app/c/grafana.crt");
    assert.equal(renderAppConfig(cfg, "key"), "/h/.jsh/keys/p/alice-app/c/grafana.key");
    assert.equal(renderAppConfig(cfg, "curl"), "curl http://127.0.0.1:9000/");
    const text = renderAppConfig(cfg, "text");
    assert.match(text, /^Name: +grafana$/m);
    assert.match(text, /^Valid: +until 2026-06-01T12:00:00Z$/m);
    assert.match(text, /^ {2}jsh proxy app grafana --port 9000$/m);
    assert.match(text, /^ {2}curl http:\/\/127\.0\.0\.1:9000\/$/m);
    const json = JSON.parse(renderAppConfig(cfg, "json"));
    assert.equal(json.proxy_command, "jsh proxy app grafana --port 9000");
    assert.equal(json.local_port, 9000);
    assert.equal(appConfig({ proxy: "p:3080" }, cert()).local_port, 8080, "hints name port 8080 by default");
  });

  it("flags: formats and ports are checked before any work", () => {
    assert.equal(parseAppConfigFormat(undefined), "text");
    assert.equal(parseAppConfigFormat("curl"), "curl");
    assert.throws(() => parseAppConfigFormat("toml"), /unknown format "toml"; use one of text, json, yaml, uri, ca, cert, key, curl/);
    assert.equal(parsePort(undefined, 0), 0);
    assert.equal(parsePort("8080", 0), 8080);
    for (const bad of ["-1", "65536", "8o", "1.5", ""]) assert.throws(() => parsePort(bad, 0), /want a port number/);
  });
});

describe("jsh proxy app", () => {
  it("announces the local address", () => {
    const lines = proxyAppBanner("grafana", 43210);
    assert.equal(lines[0], "Proxying connections to grafana on 127.0.0.1:43210");
    assert.ok(lines.some((l) => l.includes("curl http://127.0.0.1:43210/")));
  });

  it("uses the saved certificate while it is valid, and logs in once when it is missing or about to expire", async () => {
    let now = new Date("2026-06-01T11:00:00Z").getTime();
    let logins = 0;
    const login = async () => {
      logins++;
      return cert({ cert: `CERT${logins}`, expires: new Date(now + 3600_000) });
    };
    const fromSaved = appCredentialSource(cert(), login, () => now);
    assert.deepEqual(await fromSaved(), { cert: "CERT", key: "KEY", hostCas: ["CA"] });
    assert.equal(logins, 0);
    now = new Date("2026-06-01T11:59:50Z").getTime();
    const [a, b] = await Promise.all([fromSaved(), fromSaved()]);
    assert.equal(logins, 1, "connections waiting for a new certificate share one login");
    assert.equal(a.cert, "CERT1");
    assert.equal(b.cert, "CERT1");
    const none = appCredentialSource(undefined, login, () => now);
    assert.equal((await none()).cert, "CERT2");
    const failing = appCredentialSource(undefined, () => Promise.reject(new Error('access to app "grafana" denied')));
    await assert.rejects(failing(), /access to app "grafana" denied/);
  });
});
