import assert from "node:assert/strict";
import { test } from "node:test";
import { ConfigError, parseConfig } from "./parse.ts";

const base = "jumpgate: {proxy_server: proxy.example.com:3080}\n";

function messageOf(text: string): string {
  try {
    parseConfig(text);
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    return e.message;
  }
  assert.fail("expected a config error");
}

test("app_service: a full entry parses, with defaults", () => {
  const c = parseConfig(`${base}app_service:
  apps:
    - name: grafana
      description: Dashboards
      uri: https://grafana.internal:3000
      public_addr: grafana.example.com
      labels: {env: dev}
      dynamic_labels: [{name: arch, command: [uname, -m], period: 1h}]
      commands: [{name: kernel, command: [uname, -r]}]
      insecure_skip_verify: yes
      rewrite:
        headers: [{name: X-User, value: "{{internal.logins}}"}]
        redirect: [localhost]
    - name: pg-admin
      uri: tcp://127.0.0.1:5050
  resources: [{labels: {env: dev}}]
`);
  const a = c.app_service;
  assert.equal(a.enabled, true);
  assert.equal(a.audit_requests, true);
  assert.deepEqual(a.resources, [{ labels: { env: "dev" } }]);
  const g = a.apps[0];
  assert.ok(g);
  assert.equal(g.insecure_skip_verify, true);
  assert.deepEqual(g.dynamic_labels, [{ name: "arch", command: ["uname", "-m"], period: 3_600_000 }]);
  assert.deepEqual(g.commands, [{ name: "kernel", command: ["uname", "-r"], period: 60_000 }]);
  assert.deepEqual(g.rewrite, { headers: [{ name: "X-User", value: "{{internal.logins}}" }], redirect: ["localhost"] });
  assert.equal(a.apps[1]?.uri, "tcp://127.0.0.1:5050");
  assert.equal(parseConfig(`${base}app_service: {audit_requests: no}\n`).app_service.audit_requests, false);
});

test("app_service: entries are checked by the app resource schema, with the line", () => {
  const app = (fields: string) => `${base}app_service:\n  apps:\n    - ${fields}\n`;
  assert.match(messageOf(app("{name: Grafana, uri: http://127.0.0.1:3000}")), /:4: app_service\.apps\[0\]\.name: an app name must be 1 to 63 lowercase/);
  assert.match(messageOf(app("{name: g, uri: ftp://x}")), /app_service\.apps\[0\]\.uri: invalid uri "ftp:\/\/x": the scheme must be http, https or tcp/);
  assert.match(messageOf(app("{name: g, uri: tcp://db.internal}")), /apps\[0\]\.uri: .*use tcp:\/\/HOST:PORT/);
  assert.match(messageOf(app("{name: g, uri: http://u:p@x}")), /credentials do not belong in the uri/);
  assert.match(messageOf(app("{name: g, uri: http://x, public_addr: https://g.example.com}")), /apps\[0\]\.public_addr: invalid public_addr/);
  assert.match(
    messageOf(app("{name: g, uri: http://x, rewrite: {headers: [{name: jumpgate-jwt-assertion, value: x}]}}")),
    /apps\[0\]\.rewrite\.headers\[0\]\.name: header "jumpgate-jwt-assertion" is set by Jumpgate/,
  );
  assert.match(
    messageOf(app("{name: g, uri: http://x, dynamic_labels: [{name: a, command: [x]}], commands: [{name: a, command: [y]}]}")),
    /apps\[0\]\.commands\[0\]\.name: duplicate command label "a"/,
  );
  assert.match(messageOf(`${base}app_service:\n  apps: [{name: g, uri: "http://x"}, {name: g, uri: "http://y"}]\n`), /duplicate app "g"/);
});
