import assert from "node:assert/strict";
import { test } from "node:test";
import { isJumpgateError } from "../../api/errors.ts";
import { ConfigError, parseConfig } from "./parse.ts";

const DESIGN_EXAMPLE = `version: v3
jumpgate:
  nodename: web-1
  data_dir: /var/lib/jumpgate
  join_params: {token_name: TOKEN, method: token}
  proxy_server: proxy.example.com:3080     # agents: where to dial
  log: {severity: INFO, format: json}
auth_service: {enabled: true, cluster_name: example, listen_addr: 127.0.0.1:3025, authentication: {type: local, second_factor: otp}, storage: {type: sqlite}}
proxy_service: {enabled: true, listen_addr: 0.0.0.0:3080, public_addr: proxy.example.com:3080, https_keypairs: []}
ssh_service: {enabled: true, labels: {env: prod}, commands: [{name: arch, command: [uname, -m], period: 1m}]}
db_service: {enabled: true, databases: [{name: pg, protocol: postgres, uri: 127.0.0.1:5432, static_labels: {env: dev}}]}
app_service: {enabled: true, apps: [{name: grafana, uri: http://127.0.0.1:3000, labels: {env: dev}}]}
kubernetes_service: {enabled: true, kubeconfig_file: /etc/jumpgate/kubeconfig, static_labels: {env: dev}}
`;

function messageOf(text: string): string {
  try {
    parseConfig(text);
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    assert.ok(isJumpgateError(e, "bad-parameter"));
    return e.message;
  }
  assert.fail("expected a config error");
}

test("the DESIGN §9 example parses, with defaults filled in", () => {
  const c = parseConfig(DESIGN_EXAMPLE);
  assert.equal(c.version, "v3");
  assert.equal(c.jumpgate.nodename, "web-1");
  assert.deepEqual(c.jumpgate.join_params, { token_name: "TOKEN", method: "token" });
  assert.equal(c.jumpgate.proxy_server, "proxy.example.com:3080");
  assert.equal(c.auth_service.cluster_name, "example");
  assert.equal(c.auth_service.authentication.lockout.max_attempts, 5);
  assert.equal(c.auth_service.authentication.lockout.lockout_duration, 20 * 60_000);
  assert.deepEqual(c.proxy_service.public_addr, ["proxy.example.com:3080"]);
  assert.deepEqual(c.ssh_service.commands, [{ name: "arch", command: ["uname", "-m"], period: 60_000 }]);
  assert.equal(c.db_service.databases[0]?.uri, "127.0.0.1:5432");
  assert.equal(c.app_service.apps[0]?.insecure_skip_verify, false);
  assert.equal(c.kubernetes_service.kubeconfig_file, "/etc/jumpgate/kubeconfig");
  assert.equal(c.windows_desktop_service.enabled, false);
});

test("defaults for a minimal file", () => {
  const c = parseConfig("auth_service: {}\nproxy_service: {enabled: yes}\nssh_service:\n  enabled: off\n");
  assert.equal(c.jumpgate.data_dir, "/var/lib/jumpgate");
  assert.ok(c.jumpgate.nodename.length > 0);
  assert.equal(c.jumpgate.log.severity, "INFO");
  assert.equal(c.auth_service.enabled, true);
  assert.equal(c.auth_service.listen_addr, "127.0.0.1:3025");
  assert.equal(c.auth_service.authentication.second_factor, "otp");
  assert.equal(c.auth_service.storage.type, "sqlite");
  assert.deepEqual(c.auth_service.tokens, []);
  assert.equal(c.proxy_service.enabled, true);
  assert.equal(c.proxy_service.listen_addr, "0.0.0.0:3080");
  assert.equal(c.ssh_service.enabled, false);
  assert.equal(c.db_service.enabled, false);
});

test("errors name the line and the field", () => {
  const text = [
    "version: v3", // 1
    "jumpgate:", // 2
    "  nodename: web-1", // 3
    "auth_service:", // 4
    "  enabled: yes", // 5
    "  cluster_name: example", // 6
    "  listen_addr: nope", // 7
  ].join("\n");
  assert.equal(messageOf(text), "jumpgate.yaml:7: auth_service.listen_addr: expected HOST:PORT");
});

test("unknown fields are errors, at their own line", () => {
  const msg = messageOf("auth_service:\n  enabled: yes\n  listen_adr: 1.2.3.4:5\nproxy_servce: {}\n");
  assert.equal(msg, ["jumpgate.yaml:3: auth_service.listen_adr: unknown field", "jumpgate.yaml:4: proxy_servce: unknown field"].join("\n"));
});

test("nested list items, enums, durations, tokens and cross-field rules", () => {
  const msg = messageOf(
    [
      "auth_service:", // 1
      "  authentication:", // 2
      "    second_factor: maybe", // 3
      "  storage:", // 4
      "    type: postgres", // 5
      "  tokens:", // 6
      '    - "node:short"', // 7
      '    - "node,nope:abcdefghijkl"', // 8
      "ssh_service:", // 9
      "  commands:", // 10
      "    - name: arch", // 11
      "      command: [uname]", // 12
      "      period: soon", // 13
    ].join("\n"),
  );
  assert.match(msg, /^jumpgate\.yaml:3: auth_service\.authentication\.second_factor: expected one of: off, otp, webauthn, on$/m);
  assert.match(msg, /^jumpgate\.yaml:4: auth_service\.storage\.conn_string: required when type is postgres$/m);
  assert.match(msg, /^jumpgate\.yaml:7: auth_service\.tokens\[0\]: static tokens must be at least 8 characters$/m);
  assert.match(msg, /^jumpgate\.yaml:8: auth_service\.tokens\[1\]: unknown role "nope"/m);
  assert.match(msg, /^jumpgate\.yaml:13: ssh_service\.commands\[0\]\.period: expected a duration/m);
});

test("static tokens become roles and token", () => {
  const c = parseConfig('auth_service:\n  tokens: ["node:STATIC_TOKEN_1", "node,db:OTHER_TOKEN"]\n');
  assert.deepEqual(c.auth_service.tokens, [
    { roles: ["node"], token: "STATIC_TOKEN_1" },
    { roles: ["node", "db"], token: "OTHER_TOKEN" },
  ]);
});

test("YAML syntax errors, duplicate keys, wrong types and versions", () => {
  assert.match(messageOf("auth_service:\n  enabled: yes\n  enabled: no\n"), /^jumpgate\.yaml:3: .*unique/i);
  assert.match(messageOf("a: [1\n"), /^jumpgate\.yaml:\d+: /);
  assert.equal(messageOf("- 1\n- 2\n"), "jumpgate.yaml:1: expected a mapping of sections");
  assert.match(messageOf("version: v2\nauth_service: {}\n"), /^jumpgate\.yaml:1: version: unsupported config version/);
  assert.match(messageOf("auth_service:\n  enabled: maybe\n"), /^jumpgate\.yaml:2: auth_service\.enabled: expected yes or no$/);
  assert.match(messageOf("auth_service:\n  public_addrs: 7\n"), /^jumpgate\.yaml:2: auth_service\.public_addrs: expected array/);
  assert.match(messageOf("ssh_service:\n  labels: {'bad key': x}\n"), /^jumpgate\.yaml:2: ssh_service\.labels.*invalid label name/);
});

test("a file with no service, or an agent with nowhere to connect, is refused", () => {
  assert.match(messageOf(""), /no service is enabled/);
  assert.match(messageOf("ssh_service: {}\n"), /^jumpgate\.yaml:1: jumpgate\.proxy_server: required \(or auth_server\)/);
  assert.match(
    messageOf("jumpgate: {proxy_server: a:1, auth_server: b:2}\nssh_service: {}\n"),
    /jumpgate\.auth_server: set proxy_server or auth_server, not both/,
  );
});

test("duplicate resource names are errors", () => {
  const msg = messageOf(
    "db_service:\n  databases:\n    - {name: pg, protocol: postgres, uri: a:1}\n    - {name: pg, protocol: mysql, uri: b:2}\nauth_service: {}\n",
  );
  assert.match(msg, /^jumpgate\.yaml:4: db_service\.databases\[1\]\.name: duplicate database "pg"$/);
});

test("the filename given appears in messages", () => {
  assert.throws(() => parseConfig("auth_service: {listen_addr: x}\n", { filename: "/etc/jumpgate.yaml" }), {
    message: "/etc/jumpgate.yaml:1: auth_service.listen_addr: expected HOST:PORT",
  });
});

test("trusted_proxy_protocol_addrs: IPs and CIDRs, one or a list; bad entries name their line", () => {
  const c = parseConfig("auth_service: {}\nproxy_service:\n  trusted_proxy_protocol_addrs: [10.0.0.0/8, 192.0.2.7, '2001:db8::/32', '::1']\n");
  assert.deepEqual(c.proxy_service.trusted_proxy_protocol_addrs, ["10.0.0.0/8", "192.0.2.7", "2001:db8::/32", "::1"]);
  assert.deepEqual(parseConfig("auth_service: {}\nproxy_service: {trusted_proxy_protocol_addrs: 10.1.2.3}\n").proxy_service.trusted_proxy_protocol_addrs, [
    "10.1.2.3",
  ]);
  const msg = messageOf("auth_service: {}\nproxy_service:\n  trusted_proxy_protocol_addrs:\n    - 10.0.0.0/8\n    - 10.0.0.0/33\n    - lb.example.com\n");
  assert.match(msg, /^jumpgate\.yaml:5: proxy_service\.trusted_proxy_protocol_addrs\[1\]: expected an IP address or CIDR range$/m);
  assert.match(msg, /^jumpgate\.yaml:6: proxy_service\.trusted_proxy_protocol_addrs\[2\]: expected an IP address or CIDR range$/m);
});
