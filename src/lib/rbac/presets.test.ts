import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { toYaml } from "../../api/resources/index.ts";
import { AccessChecker } from "./checker.ts";
import { presetRoles } from "./presets.ts";
import { role } from "./testing.ts";
import { validateRole } from "./validate.ts";

describe("presetRoles", () => {
  const presets = presetRoles();
  const byName = new Map(presets.map((r) => [r.metadata.name, r]));
  const access = byName.get("access");
  const editor = byName.get("editor");
  const auditor = byName.get("auditor");
  assert.ok(access && editor && auditor);

  it("are access, editor and auditor, valid, and fresh copies", () => {
    assert.deepEqual([...byName.keys()], ["access", "editor", "auditor"]);
    for (const r of presets) assert.deepEqual(validateRole(r), [], r.metadata.name);
    const again = presetRoles()[0];
    assert.ok(again !== undefined && again !== presets[0]);
  });

  it("access: logins and database users from the user's traits, every node", () => {
    const c = new AccessChecker([access], { logins: ["alice", "deploy"], db_users: ["alice"], kubernetes_groups: ["devs"] });
    assert.deepEqual(c.sshLogins(), ["alice", "deploy"]);
    assert.deepEqual(c.checkNodeAccess({ labels: { env: "prod" } }, "deploy"), { allowed: true });
    assert.deepEqual(c.checkDatabaseAccess({ labels: {} }, "alice"), { allowed: true });
    assert.deepEqual(c.checkKubeAccess({ labels: {} }), { allowed: true, groups: ["devs"], users: [] });
    assert.equal(c.checkRule("role", "update").allowed, false);
    assert.equal(c.certPermissions().permitAgentForwarding, true);
    const user = { metadata: { name: "alice" } };
    assert.equal(c.checkRule("session", "read", { user, session: { participants: ["alice"] } }).allowed, true);
    assert.equal(c.checkRule("session", "read", { user, session: { participants: ["bob"] } }).allowed, false);
  });

  it("editor: manages configuration, reads CAs, no logins", () => {
    const c = new AccessChecker([editor], {});
    assert.equal(c.checkRule("role", "update").allowed, true);
    assert.equal(c.checkRule("user", "create").allowed, true);
    assert.equal(c.checkRule("cert_authority", "read").allowed, true);
    assert.equal(c.checkRule("cert_authority", "update").allowed, false);
    assert.equal(c.checkRule("cluster_name", "update").allowed, false);
    assert.deepEqual(c.sshLogins(), []);
    assert.equal(c.checkNodeAccess({ labels: {} }, "root").allowed, false);
  });

  it("auditor: reads events and recordings, nothing else", () => {
    const c = new AccessChecker([auditor], { logins: ["alice"] });
    assert.equal(c.checkRule("event", "list").allowed, true);
    assert.equal(c.checkRule("session", "read").allowed, true);
    assert.equal(c.checkRule("event", "delete").allowed, false);
    assert.deepEqual(c.sshLogins(), []);
  });

  it("print as YAML a user could edit", () => {
    assert.match(toYaml([access]), /logins:\n\s+- "\{\{internal\.logins\}\}"/);
  });
});

describe("validateRole", () => {
  it("reports templates, patterns and where clauses the schema cannot check", () => {
    const r = role("bad", {
      allow: {
        logins: ["{{internal.loginz}}"],
        node_labels: { env: "{{external.env" },
        rules: [{ resources: ["node"], verbs: ["read"], where: "contains(" }],
        kubernetes_resources: [{ kind: "pod", name: "^(a+)+$" }],
      },
    });
    assert.deepEqual(validateRole(r), [
      'spec.allow.logins[0]: invalid template "{{internal.loginz}}": internal.loginz is not an internal trait (known: logins, windows_logins, db_users, db_names, db_roles, kubernetes_users, kubernetes_groups, aws_role_arns, azure_identities, gcp_service_accounts)',
      'spec.allow.node_labels.env: invalid template "{{external.env": unbalanced {{ }}',
      'spec.allow.rules[0].where: invalid where "contains(": unexpected end',
      'spec.allow.kubernetes_resources[0].name: invalid pattern "^(a+)+$": a repeated group contains another repetition (like (a+)+), which can take exponential time',
    ]);
  });
});
