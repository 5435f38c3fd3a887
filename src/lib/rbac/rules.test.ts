import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Role } from "../../api/resources/index.ts";
import { AccessChecker } from "./checker.ts";
import type { Traits } from "./decision.ts";
import { role } from "./testing.ts";
import type { RuleContext } from "./where.ts";

interface Row {
  name: string;
  roles: Role[];
  traits?: Traits;
  request: { resource: string; verb: string; ctx?: RuleContext };
  expect: true | string;
}

const reader = role("reader", { allow: { rules: [{ resources: ["node", "role"], verbs: ["list", "read"] }] } });
const admin = role("admin", { allow: { rules: [{ resources: ["*"], verbs: ["*"] }] } });
const alice = { metadata: { name: "alice" }, spec: { roles: ["dev"], traits: {} } };
const ownSessions = role("own", {
  allow: { rules: [{ resources: ["session"], verbs: ["read"], where: "contains(session.participants, user.metadata.name)" }] },
});

const ROWS: Row[] = [
  { name: "allowed verb", roles: [reader], request: { resource: "node", verb: "read" }, expect: true },
  { name: "verb not listed", roles: [reader], request: { resource: "node", verb: "delete" }, expect: 'no role allows "delete" on "node"' },
  { name: "resource not listed", roles: [reader], request: { resource: "user", verb: "read" }, expect: 'no role allows "read" on "user"' },
  { name: "no roles", roles: [], request: { resource: "node", verb: "read" }, expect: "no roles assigned" },
  { name: "* resources and verbs", roles: [admin], request: { resource: "cert_authority", verb: "rotate" }, expect: true },
  { name: "read satisfies read_no_secrets", roles: [reader], request: { resource: "role", verb: "read_no_secrets" }, expect: true },
  {
    name: "deny rule beats * allow",
    roles: [admin, role("no-ca", { deny: { rules: [{ resources: ["cert_authority"], verbs: ["*"] }] } })],
    request: { resource: "cert_authority", verb: "read" },
    expect: 'denied by role "no-ca" (deny rule {resources: [cert_authority], verbs: [*]})',
  },
  {
    name: "deny * verbs on one resource leaves others",
    roles: [admin, role("no-ca", { deny: { rules: [{ resources: ["cert_authority"], verbs: ["*"] }] } })],
    request: { resource: "role", verb: "update" },
    expect: true,
  },
  {
    name: "where true allows",
    roles: [ownSessions],
    request: { resource: "session", verb: "read", ctx: { user: alice, session: { participants: ["alice"] } } },
    expect: true,
  },
  {
    name: "where false does not allow",
    roles: [ownSessions],
    request: { resource: "session", verb: "read", ctx: { user: alice, session: { participants: ["bob"] } } },
    expect: 'no role allows "read" on "session"',
  },
  {
    name: "where without context does not allow",
    roles: [ownSessions],
    request: { resource: "session", verb: "read" },
    expect: 'no role allows "read" on "session"',
  },
  {
    name: "unparsable where never allows",
    roles: [role("broken", { allow: { rules: [{ resources: ["node"], verbs: ["read"], where: "contains(user.spec.roles" }] } })],
    request: { resource: "node", verb: "read", ctx: { user: alice } },
    expect: 'no role allows "read" on "node"',
  },
  {
    name: "unparsable where on a deny rule denies (fail closed)",
    roles: [admin, role("broken", { deny: { rules: [{ resources: ["node"], verbs: ["read"], where: "equals(" }] } })],
    request: { resource: "node", verb: "read", ctx: { user: alice } },
    expect: 'denied by role "broken": its deny rule\'s where clause could not be evaluated (invalid where "equals(": unexpected end)',
  },
  {
    name: "deny where false lets allow through",
    roles: [
      admin,
      role("not-prod", { deny: { rules: [{ resources: ["node"], verbs: ["delete"], where: 'equals(resource.metadata.labels["env"], "prod")' }] } }),
    ],
    request: { resource: "node", verb: "delete", ctx: { resource: { metadata: { labels: { env: "dev" } } } } },
    expect: true,
  },
  {
    name: "deny where true denies",
    roles: [
      admin,
      role("not-prod", { deny: { rules: [{ resources: ["node"], verbs: ["delete"], where: 'equals(resource.metadata.labels["env"], "prod")' }] } }),
    ],
    request: { resource: "node", verb: "delete", ctx: { resource: { metadata: { labels: { env: "prod" } } } } },
    expect: 'denied by role "not-prod" (deny rule {resources: [node], verbs: [delete], where: equals(resource.metadata.labels["env"], "prod")})',
  },
  {
    name: "deny where with missing context denies (fail closed)",
    roles: [
      admin,
      role("not-prod", { deny: { rules: [{ resources: ["node"], verbs: ["delete"], where: 'equals(resource.metadata.labels["env"], "prod")' }] } }),
    ],
    request: { resource: "node", verb: "delete" },
    expect: 'denied by role "not-prod": its deny rule\'s where clause could not be evaluated (no resource to evaluate against)',
  },
  {
    name: "where with && and !",
    roles: [
      role("w", {
        allow: {
          rules: [{ resources: ["user"], verbs: ["update"], where: '!contains(user.spec.roles, "contractor") && equals(user.metadata.name, "alice")' }],
        },
      }),
    ],
    request: { resource: "user", verb: "update", ctx: { user: alice } },
    expect: true,
  },
];

describe("checkRule", () => {
  for (const row of ROWS) {
    it(row.name, () => {
      const d = new AccessChecker(row.roles, row.traits ?? {}).checkRule(row.request.resource, row.request.verb, row.request.ctx);
      assert.deepEqual(d.allowed ? true : d.reason, row.expect);
    });
  }
});
