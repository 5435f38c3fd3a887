import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isJumpgateError } from "../errors.ts";
import type { Role } from "./role.ts";
import { parseYamlDocuments, toCanonicalJson, toYaml } from "./yaml.ts";

/** What `tctl get roles` prints for a typical hand-written role, plus a second document. */
const TELEPORT_ROLES = `kind: role
metadata:
  description: Developers, with production read-only
  labels:
    team: platform
  name: developer
  namespace: default
  revision: 3b5a6e0c-8d6f-4a43-a2f6-7b3f0f6f0e1d
spec:
  allow:
    app_labels:
      env: [dev, staging]
    db_labels:
      env: dev
      engine: '^(postgres|mysql)$'
    db_names: ['{{internal.db_names}}', analytics]
    db_users: ['{{internal.db_users}}']
    kubernetes_groups: ['{{internal.kubernetes_groups}}', developers]
    kubernetes_labels:
      env: dev
    kubernetes_resources:
    - kind: pod
      name: '*'
      namespace: 'dev-*'
      verbs: [get, list, exec]
    kubernetes_users: ['{{external["k8s-user"]}}']
    logins: ['{{internal.logins}}', 'ubuntu', '{{email.local(external.email)}}']
    node_labels:
      env: [dev, staging]
      region: 'eu-*'
    rules:
    - resources: [session]
      verbs: [list, read]
      where: contains(session.participants, user.metadata.name)
    - resources: [event]
      verbs: [list, read]
    request:
      roles: [dba]
      thresholds:
      - approve: 1
        deny: 1
    review_requests:
      roles: [developer]
    join_sessions:
    - name: pair on dev
      roles: [developer]
      kinds: [ssh, k8s]
      modes: [peer, observer]
    windows_desktop_labels:
      '*': '*'
    windows_desktop_logins: [Administrator]
    aws_role_arns: ['arn:aws:iam::123456789012:role/dev']
  deny:
    logins: [root]
    node_labels:
      env: prod
    rules:
    - resources: [role, user]
      verbs: [create, update, delete]
  options:
    cert_format: standard
    client_idle_timeout: 15m
    create_host_user: false
    desktop_clipboard: true
    disconnect_expired_cert: true
    enhanced_recording: [command, network]
    forward_agent: true
    idp:
      saml:
        enabled: true
    max_session_ttl: 8h0m0s
    pin_source_ip: false
    port_forwarding: true
    record_session:
      default: best_effort
      desktop: true
    require_session_mfa: false
    ssh_file_copy: true
version: v7
---
# a second document: the defaults fill in
kind: role
version: v6
metadata:
  name: viewer
spec:
  allow:
    app_labels: {'*': '*'}
`;

describe("parseYamlDocuments", () => {
  it("loads a realistic Teleport role file with several documents", () => {
    const [dev, viewer, ...rest] = parseYamlDocuments(TELEPORT_ROLES, "roles.yaml") as Role[];
    assert.equal(rest.length, 0);
    assert.ok(dev !== undefined && viewer !== undefined);
    assert.equal(dev.metadata.name, "developer");
    assert.deepEqual(dev.spec.allow.node_labels, { env: ["dev", "staging"], region: "eu-*" });
    assert.deepEqual(dev.spec.allow.logins, ["{{internal.logins}}", "ubuntu", "{{email.local(external.email)}}"]);
    assert.equal(dev.spec.allow.rules?.[0]?.where, "contains(session.participants, user.metadata.name)");
    assert.equal(dev.spec.options.max_session_ttl, "8h0m0s");
    assert.deepEqual(dev.spec.deny.logins, ["root"]);
    assert.equal(viewer.version, "v6");
    assert.equal(viewer.spec.options.max_session_ttl, "12h0m0s");
  });

  it("round-trips through toYaml without changing meaning", () => {
    const first = parseYamlDocuments(TELEPORT_ROLES, "roles.yaml");
    const text = toYaml(first);
    const second = parseYamlDocuments(text, "again.yaml");
    assert.deepEqual(second, first);
    assert.equal(toCanonicalJson(second), toCanonicalJson(first));
    assert.match(text, /^kind: role\nversion: v7\nmetadata:\n/);
    assert.match(text, /\n---\nkind: role\nversion: v6\n/);
  });

  it("round-trips JSON too (JSON is YAML)", () => {
    const first = parseYamlDocuments(TELEPORT_ROLES, "roles.yaml");
    const again = parseYamlDocuments(JSON.stringify(first[0]), "role.json");
    assert.deepEqual(again, first.slice(0, 1));
  });

  it("skips empty documents and an empty file", () => {
    assert.deepEqual(parseYamlDocuments("", "empty.yaml"), []);
    assert.equal(parseYamlDocuments(`---\n${TELEPORT_ROLES}---\n`, "r.yaml").length, 2);
  });

  const BAD: Array<{ name: string; text: string; message: string }> = [
    {
      name: "a bad field, with its line",
      text: "kind: role\nversion: v7\nmetadata:\n  name: a\n---\nkind: role\nversion: v7\nmetadata:\n  name: dev\nspec:\n  allow:\n    logins: 5\n",
      message: 'roles.yaml:12: role "dev" (doc 2): spec.allow.logins: expected a list of strings, got a number',
    },
    {
      name: "an unknown field points at the key",
      text: "kind: role\nversion: v7\nmetadata:\n  name: dev\nspec:\n  allow:\n    logins: [a]\n    node_lables:\n      env: dev\n",
      message: 'roles.yaml:8: role "dev" (doc 1): spec.allow.node_lables: unknown field (did you mean "node_labels"?)',
    },
    {
      name: "a bad list element points at the element",
      text: "kind: role\nversion: v7\nmetadata:\n  name: dev\nspec:\n  allow:\n    logins:\n      - ubuntu\n      - 42\n",
      message: 'roles.yaml:9: role "dev" (doc 1): spec.allow.logins[1]: expected a string, got a number',
    },
    {
      name: "a missing field points at its parent",
      text: "kind: role\nversion: v7\nmetadata:\n  description: x\n",
      message: "roles.yaml:3: role (doc 1): metadata.name: required",
    },
    {
      name: "malformed YAML, with line and column",
      text: "kind: role\nversion: v7\nmetadata:\n  name: [dev\n",
      message: "roles.yaml:5:1: invalid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]",
    },
    {
      name: "duplicate keys",
      text: "kind: role\nkind: user\n",
      message: "roles.yaml:2:1: invalid YAML: Map keys must be unique",
    },
    {
      name: "problems in several documents are all reported",
      text: "kind: rolez\nversion: v7\nmetadata:\n  name: a\n---\nkind: user\nversion: v3\nmetadata:\n  name: b\n",
      message: [
        'roles.yaml:1: resource "a" (doc 1): unknown kind "rolez"; known kinds: app, app_server, cert_authority, cluster_auth_preference, cluster_name, db, db_server, kube_cluster, kube_server, lock, node, role, session_recording_config, session_tracker, token, user',
        'roles.yaml:7: user "b" (doc 2): version: unsupported version "v3" for kind user; supported: v2',
      ].join("\n"),
    },
  ];
  for (const row of BAD) {
    it(row.name, () => {
      assert.throws(
        () => parseYamlDocuments(row.text, "roles.yaml"),
        (e) => {
          assert.ok(isJumpgateError(e, "bad-parameter"));
          assert.equal(e.message, row.message);
          return true;
        },
      );
    });
  }

  it("refuses alias bombs", () => {
    const bomb = `a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n`;
    assert.throws(
      () => parseYamlDocuments(bomb, "bomb.yaml"),
      (e) => isJumpgateError(e, "bad-parameter") && /alias/i.test(e.message),
    );
  });
});

describe("toCanonicalJson", () => {
  it("sorts keys at every level", () => {
    assert.equal(toCanonicalJson({ b: 1, a: { d: [{ z: 1, y: 2 }], c: undefined } }), '{"a":{"d":[{"y":2,"z":1}]},"b":1}');
  });
});
