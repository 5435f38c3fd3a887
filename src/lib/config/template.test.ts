import assert from "node:assert/strict";
import { test } from "node:test";
import { enabledRoles } from "./load.ts";
import { parseConfig } from "./parse.ts";
import { configureTemplate } from "./template.ts";

test("the configure template is commented and parses cleanly", () => {
  const text = configureTemplate({ nodename: "web-1.example.com" });
  assert.match(text, /^# Jumpgate configuration/);
  assert.ok(text.split("\n").filter((l) => l.trimStart().startsWith("#")).length > 10);
  const c = parseConfig(text);
  assert.deepEqual(enabledRoles(c), ["auth", "proxy", "node"]);
  assert.equal(c.jumpgate.nodename, "web-1.example.com");
  assert.equal(c.auth_service.cluster_name, "web-1");
  assert.deepEqual(c.proxy_service.public_addr, ["web-1.example.com:3080"]);
  assert.equal(c.ssh_service.commands[0]?.period, 3_600_000);
  assert.equal(c.db_service.databases[0]?.name, "pg");
});

test("the template's commented-out lines parse too when switched on", () => {
  const text = configureTemplate({ nodename: "h" })
    .split("\n")
    .map((l) => l.replace(/^(\s*)# ((join_params|proxy_server|diag_addr|audit_events_uri|tokens|trusted_proxy_protocol_addrs|conn_string):)/, "$1$2"))
    .filter((l) => !/^\s*auth_server:/.test(l))
    .join("\n");
  const c = parseConfig(text);
  assert.equal(c.jumpgate.proxy_server, "proxy.example.com:3080");
  assert.equal(c.jumpgate.diag_addr, "127.0.0.1:3000");
  assert.deepEqual(c.auth_service.tokens, [{ roles: ["node"], token: "CHANGE-ME-LONG-RANDOM-TOKEN" }]);
  assert.deepEqual(c.proxy_service.trusted_proxy_protocol_addrs, ["10.0.0.0/8"]);
});

test("odd characters in values are quoted", () => {
  const c = parseConfig(configureTemplate({ nodename: "h", dataDir: "/srv/jump gate: #1", clusterName: "c1" }));
  assert.equal(c.jumpgate.data_dir, "/srv/jump gate: #1");
});
