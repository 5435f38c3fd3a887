import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { enabledRoles, loadConfig, parseLabels, parseRoles } from "./load.ts";
import { ConfigError } from "./parse.ts";
import { defaultClusterName } from "./schema.ts";

let dir = "";
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "jg-config-"));
});
after(() => rm(dir, { recursive: true, force: true }));

async function file(name: string, text: string): Promise<string> {
  const p = join(dir, name);
  await writeFile(p, text);
  return p;
}

test("no file and no roles: the auth+proxy+node demo", () => {
  const c = loadConfig({ flags: { dataDir: "./data" } });
  assert.deepEqual(enabledRoles(c), ["auth", "proxy", "node"]);
  assert.equal(c.jumpgate.data_dir, "./data");
  assert.equal(c.auth_service.cluster_name, defaultClusterName());
  assert.equal(c.proxy_service.listen_addr, "0.0.0.0:3080");
  assert.equal(c.auth_service.listen_addr, "127.0.0.1:3025");
  assert.equal(loadConfig().jumpgate.data_dir, "/var/lib/jumpgate");
});

test("flags set every field they name", async () => {
  const tokenFile = await file("token", "  file-token-123\n");
  const c = loadConfig({
    flags: {
      roles: "node,db",
      clusterName: "ignored-when-auth-off",
      listen: "127.0.0.1:0",
      authListen: "127.0.0.1:4025",
      publicAddr: "node1.example.com:3022",
      token: tokenFile,
      proxy: "proxy.example.com:443",
      insecure: true,
      labels: "env=prod, team=db",
      diagAddr: "127.0.0.1:3434",
      debug: true,
    },
  });
  assert.deepEqual(enabledRoles(c), ["node", "db"]);
  assert.equal(c.proxy_service.listen_addr, "127.0.0.1:0");
  assert.equal(c.auth_service.listen_addr, "127.0.0.1:4025");
  assert.deepEqual(c.ssh_service.public_addr, ["node1.example.com:3022"]);
  assert.deepEqual(c.jumpgate.join_params, { token_name: "file-token-123", method: "token" });
  assert.equal(c.jumpgate.proxy_server, "proxy.example.com:443");
  assert.equal(c.jumpgate.insecure, true);
  assert.deepEqual(c.ssh_service.labels, { env: "prod", team: "db" });
  assert.equal(c.jumpgate.diag_addr, "127.0.0.1:3434");
  assert.equal(c.jumpgate.log.severity, "DEBUG");
});

test("flags override the file, and --roles replaces the file's choice of services", async () => {
  const p = await file(
    "a.yaml",
    [
      "jumpgate: {data_dir: /srv/jg, auth_server: 10.0.0.1:3025}",
      "auth_service: {enabled: yes, cluster_name: prod}",
      "proxy_service: {public_addr: proxy.example.com}",
      "ssh_service: {labels: {env: prod, os: linux}}",
    ].join("\n"),
  );
  const fromFile = loadConfig({ file: p });
  assert.deepEqual(enabledRoles(fromFile), ["auth", "proxy", "node"]);
  assert.deepEqual(fromFile.proxy_service.public_addr, ["proxy.example.com:3080"]);
  const c = loadConfig({
    file: p,
    flags: { roles: ["auth", "proxy"], dataDir: "/tmp/x", proxy: "p.example.com:3080", labels: "env=dev" },
  });
  assert.deepEqual(enabledRoles(c), ["auth", "proxy"]);
  assert.equal(c.ssh_service.enabled, false);
  assert.equal(c.jumpgate.data_dir, "/tmp/x");
  assert.equal(c.jumpgate.auth_server, undefined);
  assert.equal(c.jumpgate.proxy_server, "p.example.com:3080");
  assert.equal(c.auth_service.cluster_name, "prod");
  assert.deepEqual(c.ssh_service.labels, { env: "dev", os: "linux" });
  const pub = loadConfig({ file: p, flags: { publicAddr: "jg.example.com:443" } });
  assert.deepEqual(pub.proxy_service.public_addr, ["jg.example.com:443"]);
});

test("bad flags are named by flag, bad file fields by line", async () => {
  assert.throws(() => loadConfig({ flags: { listen: "nope" } }), {
    message: "--listen: proxy_service.listen_addr: expected HOST:PORT",
  });
  assert.throws(() => loadConfig({ flags: { roles: "auth,web" } }), { message: /^--roles: unknown role "web"/ });
  assert.throws(() => loadConfig({ flags: { labels: "env" } }), { message: /^--labels: expected k=v/ });
  assert.throws(() => loadConfig({ flags: { proxy: "a:1", authServer: "b:2" } }), ConfigError);
  assert.throws(() => loadConfig({ flags: { roles: "node" } }), {
    message: /^--proxy: jumpgate\.proxy_server: required/,
  });
  const p = await file("b.yaml", "auth_service:\n  enabled: yes\n  listen_addr: bad\n");
  assert.throws(() => loadConfig({ file: p }), { message: `${p}:3: auth_service.listen_addr: expected HOST:PORT` });
  assert.throws(() => loadConfig({ file: join(dir, "missing.yaml") }), {
    message: /cannot read the config file \(ENOENT\)/,
  });
});

test("roles and labels parsing", () => {
  assert.deepEqual(parseRoles("Auth, proxy,ssh,kubernetes,auth"), ["auth", "proxy", "node", "kube"]);
  assert.throws(() => parseRoles(""), ConfigError);
  assert.deepEqual(parseLabels("a=1,b=x=y,"), { a: "1", b: "x=y" });
});

test("a file with every service switched off, then one switched on by --roles", async () => {
  const p = await file("c.yaml", "auth_service: {enabled: no}\n");
  assert.throws(() => loadConfig({ file: p }), { message: /no service is enabled/ });
  assert.deepEqual(enabledRoles(loadConfig({ file: p, flags: { roles: "auth" } })), ["auth"]);
});

test("a flag for a service the file leaves out does not switch that service on", async () => {
  const p = await file("d.yaml", "auth_service: {cluster_name: solo}\n");
  const c = loadConfig({ file: p, flags: { listen: "0.0.0.0:443", labels: "a=b" } });
  assert.deepEqual(enabledRoles(c), ["auth"]);
  assert.equal(c.proxy_service.listen_addr, "0.0.0.0:443");
  const d = loadConfig({ file: p, flags: { roles: "auth,proxy", listen: "0.0.0.0:443" } });
  assert.deepEqual(enabledRoles(d), ["auth", "proxy"]);
});
