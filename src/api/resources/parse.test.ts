import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isJumpgateError } from "../errors.ts";
import { withoutSecrets } from "./cert-authority.ts";
import { nodeLabels } from "./node.ts";
import { parseResource, parseResourceOf } from "./parse.ts";

const role = (spec: unknown, name = "dev") => ({ kind: "role", version: "v7", metadata: { name }, spec });

/** Every class of bad input, with the exact message a user sees. */
const BAD: Array<{ name: string; doc: unknown; where?: { source?: string; index?: number }; message: string }> = [
  {
    name: "wrong type, with the document's place",
    doc: role({ allow: { logins: 3 } }),
    where: { source: "roles.yaml", index: 2 },
    message: 'role "dev" (doc 2 of roles.yaml): spec.allow.logins: expected a list of strings, got a number',
  },
  {
    name: "wrong element type",
    doc: role({ allow: { logins: ["root", 7] } }),
    message: 'role "dev": spec.allow.logins[1]: expected a string, got a number',
  },
  {
    name: "unknown kind",
    doc: { kind: "rolez", version: "v7", metadata: { name: "dev" } },
    message:
      'resource "dev": unknown kind "rolez"; known kinds: app, app_server, cert_authority, cluster_auth_preference, cluster_name, db, db_server, kube_cluster, kube_server, lock, node, role, session_recording_config, session_tracker, token, user',
  },
  {
    name: "unknown field, with a suggestion",
    doc: role({ allow: { loginz: ["root"] } }),
    message: 'role "dev": spec.allow.loginz: unknown field (did you mean "logins"?)',
  },
  {
    name: "unknown field, nothing close",
    doc: role({ allow: { teleport_magic: true } }),
    message: 'role "dev": spec.allow.teleport_magic: unknown field',
  },
  {
    name: "unknown top-level field",
    doc: { ...role({}), status: {} },
    message: 'role "dev": status: unknown field',
  },
  {
    name: "unsupported version",
    doc: { kind: "role", version: "v3", metadata: { name: "dev" } },
    message: 'role "dev": version: unsupported version "v3" for kind role; supported: v5, v6, v7',
  },
  { name: "missing version", doc: { kind: "user", metadata: { name: "al" } }, message: 'user "al": version: required (supported: v2)' },
  { name: "missing name", doc: { kind: "role", version: "v7", metadata: {} }, message: "role: metadata.name: required" },
  { name: "missing metadata", doc: { kind: "role", version: "v7" }, message: "role: metadata: required" },
  {
    name: "not a resource",
    doc: ["kind", "role"],
    where: { source: "x.yaml", index: 1 },
    message: "doc 1 of x.yaml: expected a resource (a map with kind, version, metadata and spec), got a list",
  },
  {
    name: "bad enum value",
    doc: { kind: "cluster_auth_preference", version: "v2", metadata: { name: "cluster-auth-preference" }, spec: { second_factor: "sms" } },
    message: 'cluster_auth_preference "cluster-auth-preference": spec.second_factor: expected one of "off", "otp", "webauthn", "on", got "sms"',
  },
  {
    name: "bad duration",
    doc: role({ options: { max_session_ttl: "3 days" } }),
    message: 'role "dev": spec.options.max_session_ttl: invalid duration "3 days": use a number and a unit (h, m, s, ms), like "8h", "90m" or "1h30m"',
  },
  { name: "zero ttl", doc: role({ options: { max_session_ttl: "0s" } }), message: 'role "dev": spec.options.max_session_ttl: must be longer than zero' },
  {
    name: "bad timestamp",
    doc: { kind: "token", version: "v2", metadata: { name: "t1", expires: "tomorrow" }, spec: { roles: ["node"] } },
    message: 'token "t1": metadata.expires: invalid time "tomorrow": use RFC 3339, like "2026-01-31T12:00:00Z"',
  },
  {
    name: "label value of the wrong type",
    doc: role({ allow: { node_labels: { env: 1 } } }),
    message: 'role "dev": spec.allow.node_labels.env: expected a string or a list of strings, got a number',
  },
  {
    name: "catastrophic regex",
    doc: role({ allow: { node_labels: { env: ["dev", "^(a+)+$"] } } }),
    message:
      'role "dev": spec.allow.node_labels.env[1]: invalid regular expression "^(a+)+$": a repeated group contains another repetition (like (a+)+), which can take exponential time',
  },
  {
    name: "invalid regex",
    doc: role({ deny: { db_labels: { env: "^[a-$" } } }),
    message: 'role "dev": spec.deny.db_labels.env: invalid regular expression "^[a-$": range out of order in character class',
  },
  {
    name: "wildcard key with another value",
    doc: role({ allow: { app_labels: { "*": "prod" } } }),
    message: 'role "dev": spec.allow.app_labels["*"]: the "*" key only accepts the value "*"',
  },
  {
    name: "wildcard login",
    doc: role({ allow: { logins: ["*"] } }),
    message: 'role "dev": spec.allow.logins[0]: the wildcard "*" is not allowed in logins',
  },
  {
    name: "label expressions are refused, not ignored",
    doc: role({ allow: { node_labels_expression: 'labels.env == "dev"' } }),
    message: 'role "dev": spec.allow.node_labels_expression: label expressions are not supported; use node_labels with "*", globs or "^regex$" values',
  },
  {
    name: "empty rule verbs",
    doc: role({ allow: { rules: [{ resources: ["role"], verbs: [] }] } }),
    message: 'role "dev": spec.allow.rules[0].verbs: must list at least one value',
  },
  {
    name: "bot token without bot_name",
    doc: { kind: "token", version: "v2", metadata: { name: "abc" }, spec: { roles: ["Node", "bot"] } },
    message: 'token "abc": spec.bot_name: required for a token with the "bot" role',
  },
  {
    name: "unknown token role",
    doc: { kind: "token", version: "v2", metadata: { name: "abc" }, spec: { roles: ["auth"] } },
    message: 'token "abc": spec.roles[0]: expected one of "node", "proxy", "db", "app", "kube", "bot", "desktop", got "auth"',
  },
  {
    name: "slash in a name",
    doc: { kind: "user", version: "v2", metadata: { name: "a/b" } },
    message: 'user "a/b": metadata.name: must not contain whitespace, slashes or control characters',
  },
  {
    name: "several problems, one line each",
    doc: role({ allow: { logins: "root", loginz: [] }, options: { forward_agent: "yes" } }),
    message: [
      'role "dev": spec.allow.logins: expected a list of strings, got a string',
      'role "dev": spec.allow.loginz: unknown field (did you mean "logins"?)',
      'role "dev": spec.options.forward_agent: expected true or false, got a string',
    ].join("\n"),
  },
];

describe("parseResource refuses bad documents with a clear message", () => {
  for (const row of BAD) {
    it(row.name, () => {
      assert.throws(
        () => parseResource(row.doc, row.where),
        (e) => {
          assert.ok(isJumpgateError(e, "bad-parameter"), `bad-parameter, got ${String(e)}`);
          assert.equal(e.message, row.message);
          return true;
        },
      );
    });
  }
});

describe("parseResource accepts each kind and applies defaults", () => {
  it("role: defaults 12h TTL, standard cert format, empty allow/deny", () => {
    const r = parseResourceOf("role", { kind: "role", version: "v7", metadata: { name: "empty" } });
    assert.deepEqual(r.spec, { allow: {}, deny: {}, options: { max_session_ttl: "12h0m0s", cert_format: "standard" } });
  });
  it("role: an empty YAML value (null) reads as absent", () => {
    const r = parseResourceOf("role", { kind: "role", version: "v7", metadata: { name: "n" }, spec: { allow: { logins: null }, deny: null } });
    assert.deepEqual(r.spec.allow, {});
  });
  it("role v7: selecting Kubernetes clusters defaults kubernetes_resources to everything", () => {
    const r = parseResourceOf("role", role({ allow: { kubernetes_labels: { "*": "*" } } }));
    assert.deepEqual(r.spec.allow.kubernetes_resources, [{ kind: "*", namespace: "*", name: "*", verbs: ["*"] }]);
  });
  it("role v5: defaults to pods only", () => {
    const r = parseResourceOf("role", { ...role({ allow: { kubernetes_labels: { env: "dev" } } }), version: "v5" });
    assert.deepEqual(r.spec.allow.kubernetes_resources, [{ kind: "pod", namespace: "*", name: "*", verbs: ["*"] }]);
  });
  it("user: roles and traits default to empty", () => {
    const u = parseResourceOf("user", { kind: "user", version: "v2", metadata: { name: "alice@example.com" } });
    assert.deepEqual(u.spec, { roles: [], traits: {} });
  });
  it("token: Teleport's capitalised roles are accepted", () => {
    const t = parseResourceOf("token", {
      kind: "token",
      version: "v2",
      metadata: { name: "3f2a", expires: "2026-01-01T01:00:00Z" },
      spec: { roles: ["Node", "Db", "WindowsDesktop"] },
    });
    assert.deepEqual(t.spec, { roles: ["node", "db", "desktop"], join_method: "token" });
  });
  it("session_recording_config: mode defaults to node and is one of node, proxy, off", () => {
    const p = parseResourceOf("session_recording_config", { kind: "session_recording_config", version: "v2", metadata: { name: "session_recording_config" } });
    assert.equal(p.spec.mode, "node");
    assert.throws(
      () =>
        parseResourceOf("session_recording_config", { kind: "session_recording_config", version: "v2", metadata: { name: "s" }, spec: { mode: "node-sync" } }),
      /spec\.mode: expected one of "node", "proxy", "off"/,
    );
  });

  it("cluster_auth_preference: lockout defaults", () => {
    const p = parseResourceOf("cluster_auth_preference", { kind: "cluster_auth_preference", version: "v2", metadata: { name: "cap" } });
    assert.deepEqual(p.spec, { type: "local", second_factor: "otp", lockout: { max_attempts: 5, lockout_duration: "20m" } });
  });
  it("cluster_name", () => {
    const c = parseResource({ kind: "cluster_name", version: "v2", metadata: { name: "cluster-name" }, spec: { cluster_name: "example", cluster_id: "42" } });
    assert.equal(c.kind, "cluster_name");
  });
  it("node: openssh sub_kind and command labels", () => {
    const n = parseResourceOf("node", {
      kind: "node",
      sub_kind: "openssh",
      version: "v2",
      metadata: { name: "5f1c", labels: { env: "prod" } },
      spec: { addr: "10.0.0.5:22", hostname: "web-1", cmd_labels: { arch: { period: "1m0s", command: ["uname", "-m"], result: "x86_64" } } },
    });
    assert.deepEqual(nodeLabels(n), { env: "prod", arch: "x86_64" });
  });
  it("parseResourceOf refuses another kind", () => {
    assert.throws(() => parseResourceOf("user", role({})), /role "dev": expected kind "user", got "role"/);
  });
});

describe("cert_authority", () => {
  const ca = parseResourceOf("cert_authority", {
    kind: "cert_authority",
    sub_kind: "user",
    version: "v2",
    metadata: { name: "example" },
    spec: {
      type: "user",
      cluster_name: "example",
      active_keys: {
        ssh: [{ public_key: "ssh-ed25519 AAAA", private_key: "-----BEGIN PRIVATE KEY-----" }],
        tls: [{ cert: "-----BEGIN CERTIFICATE-----", key: "-----BEGIN EC PRIVATE KEY-----" }],
      },
    },
  });
  it("withoutSecrets drops every private part and leaves the original alone", () => {
    const pub = withoutSecrets(ca);
    assert.deepEqual(pub.spec.active_keys, { ssh: [{ public_key: "ssh-ed25519 AAAA" }], tls: [{ cert: "-----BEGIN CERTIFICATE-----" }] });
    assert.deepEqual(pub.spec.additional_trusted_keys, {});
    assert.equal(ca.spec.active_keys.ssh?.[0]?.private_key, "-----BEGIN PRIVATE KEY-----");
    assert.doesNotMatch(JSON.stringify(pub), /PRIVATE/);
  });
});
