import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Role } from "../../api/resources/index.ts";
import { AccessChecker } from "./checker.ts";
import { checkCanGrant, type GrantTarget } from "./escalation.ts";
import { presetRoles } from "./presets.ts";
import { role } from "./testing.ts";

interface Row {
  name: string;
  /** The actor's roles. */
  roles: Role[];
  request: GrantTarget;
  expect: true | string;
}

const CRUD = ["list", "create", "read", "update", "delete"];
/** An editor-like actor: full rights on a few kinds, no "*". */
const editorLike = role("editor-like", {
  allow: {
    rules: [
      { resources: ["role", "user", "token", "node"], verbs: CRUD },
      { resources: ["cert_authority"], verbs: ["read", "list"] },
    ],
  },
});
const roleCreatorOnly = role("role-creator", { allow: { rules: [{ resources: ["role"], verbs: ["create", "read", "list"] }] } });
const fullAdmin = role("admin", { allow: { rules: [{ resources: ["*"], verbs: ["*"] }] } });
const adminButCa = role("admin-but-ca", {
  allow: { rules: [{ resources: ["*"], verbs: ["*"] }] },
  deny: { rules: [{ resources: ["cert_authority"], verbs: ["*"] }] },
});

const wildcardRole = role("god", { allow: { rules: [{ resources: ["*"], verbs: ["*"] }] } });
const wildcardVerbs = role("token-all", { allow: { rules: [{ resources: ["token"], verbs: ["*"] }] } });
const caWriter = role("ca-writer", { allow: { rules: [{ resources: ["cert_authority"], verbs: ["update"] }] } });
const nodeReader = role("node-reader", { allow: { rules: [{ resources: ["node"], verbs: ["read", "list"] }] } });
const godButCa = role("god-but-ca", {
  allow: { rules: [{ resources: ["*"], verbs: ["*"] }] },
  deny: { rules: [{ resources: ["cert_authority"], verbs: ["*"] }] },
});
const conditionalRole = role("cond", {
  allow: { rules: [{ resources: ["event"], verbs: ["read"], where: 'contains(user.spec.roles, "x")' }] },
});

const ROWS: Row[] = [
  {
    name: "editor-like without * writes a role with resources ['*'] → refused",
    roles: [editorLike],
    request: { role: wildcardRole, verb: "update" },
    expect: 'role "god" allow rule #1 {resources: [*], verbs: [*]} would grant any verb ("*") on any resource ("*"), which you are not allowed yourself',
  },
  {
    name: "editor-like writes a role with verbs ['*'] on a kind he holds in CRUD only → refused",
    roles: [editorLike],
    request: { role: wildcardVerbs, verb: "create" },
    expect: 'role "token-all" allow rule #1 {resources: [token], verbs: [*]} would grant any verb ("*") on "token", which you are not allowed yourself',
  },
  {
    name: "actor grants a rule he does not have → refused",
    roles: [editorLike],
    request: { role: caWriter, verb: "create" },
    expect:
      'role "ca-writer" allow rule #1 {resources: [cert_authority], verbs: [update]} would grant "update" on "cert_authority", which you are not allowed yourself',
  },
  { name: "actor grants a subset of his rules → allowed", roles: [editorLike], request: { role: nodeReader, verb: "create" }, expect: true },
  {
    name: "user with role:create but not user:update cannot assign roles (to himself or anyone)",
    roles: [roleCreatorOnly],
    request: { assignRoles: [nodeReader], verb: "update" },
    expect: 'assigning roles needs permission to update users (no role allows "update" on "user")',
  },
  {
    name: "role:create only cannot update roles",
    roles: [roleCreatorOnly],
    request: { role: nodeReader, verb: "update" },
    expect: 'you may not update roles (no role allows "update" on "role")',
  },
  {
    name: "role:create only cannot create a role with rules he lacks",
    roles: [roleCreatorOnly],
    request: { role: nodeReader, verb: "create" },
    expect: 'role "node-reader" allow rule #1 {resources: [node], verbs: [read, list]} would grant "read" on "node", which you are not allowed yourself',
  },
  {
    name: "assigning a role beyond the actor's rules → refused",
    roles: [editorLike],
    request: { assignRole: wildcardRole, verb: "update" },
    expect: 'role "god" allow rule #1 {resources: [*], verbs: [*]} would grant any verb ("*") on any resource ("*"), which you are not allowed yourself',
  },
  { name: "assigning roles within the actor's rules → allowed", roles: [editorLike], request: { assignRoles: [nodeReader], verb: "update" }, expect: true },
  { name: "actor with full rights may grant *", roles: [fullAdmin], request: { role: wildcardRole, verb: "create" }, expect: true },
  { name: "actor with full rights may assign anything", roles: [fullAdmin], request: { assignRoles: [wildcardRole, caWriter] }, expect: true },
  {
    name: "* minus a deny cannot grant the full *",
    roles: [adminButCa],
    request: { role: wildcardRole, verb: "create" },
    expect: 'role "god" allow rule #1 {resources: [*], verbs: [*]} would grant any verb ("*") on "cert_authority", which you are not allowed yourself',
  },
  { name: "* minus a deny may grant * with the same deny", roles: [adminButCa], request: { role: godButCa, verb: "create" }, expect: true },
  {
    name: "a conditional allow of the actor grants nothing to give away",
    roles: [
      role("w", {
        allow: {
          rules: [
            { resources: ["role"], verbs: ["create"] },
            { resources: ["event"], verbs: ["read"], where: 'contains(user.spec.roles, "y")' },
          ],
        },
      }),
    ],
    request: { role: conditionalRole, verb: "create" },
    expect:
      'role "cond" allow rule #1 {resources: [event], verbs: [read], where: contains(user.spec.roles, "x")} would grant "read" on "event", which you are not allowed yourself',
  },
  {
    name: "the same where clause may be passed on",
    roles: [
      role("w", {
        allow: {
          rules: [
            { resources: ["role"], verbs: ["create"] },
            { resources: ["event"], verbs: ["read"], where: 'contains(user.spec.roles,   "x")' },
          ],
        },
      }),
    ],
    request: { role: conditionalRole, verb: "create" },
    expect: true,
  },
  {
    name: "a conditional deny of the actor counts as a deny",
    roles: [
      role("w", {
        allow: { rules: [{ resources: ["*"], verbs: ["*"] }] },
        deny: { rules: [{ resources: ["node"], verbs: ["delete"], where: 'equals(resource.metadata.name, "x")' }] },
      }),
    ],
    request: { role: role("nd", { allow: { rules: [{ resources: ["node"], verbs: ["delete"] }] } }), verb: "create" },
    expect: 'role "nd" allow rule #1 {resources: [node], verbs: [delete]} would grant "delete" on "node", which you are not allowed yourself',
  },
  {
    name: "a role without rules grants no rules",
    roles: [roleCreatorOnly],
    request: { role: role("logins-only", { allow: { logins: ["ubuntu"] } }), verb: "create" },
    expect: true,
  },
  { name: "no roles: nothing", roles: [], request: { role: nodeReader }, expect: "you may not create or update roles (no roles assigned)" },
];

describe("checkCanGrant (escalation attempts)", () => {
  for (const row of ROWS) {
    it(row.name, () => {
      const d = checkCanGrant(new AccessChecker(row.roles, {}), row.request);
      assert.deepEqual(d.allowed ? true : d.reason, row.expect);
    });
  }

  it("the preset editor may assign the preset access role, but not auditor", () => {
    const [access, editor, auditor] = presetRoles();
    assert.ok(access && editor && auditor);
    const actor = new AccessChecker([editor], {});
    assert.equal(checkCanGrant(actor, { assignRole: access, verb: "update" }).allowed, true);
    assert.equal(checkCanGrant(actor, { assignRole: editor, verb: "update" }).allowed, true);
    const d = checkCanGrant(actor, { assignRole: auditor, verb: "update" });
    assert.equal(d.allowed, false);
  });
});
