import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { checkWhere, type RuleContext } from "./where.ts";

const CTX: RuleContext = {
  user: { metadata: { name: "alice" }, spec: { roles: ["dev", "auditor"], traits: { groups: ["eng"] } } },
  resource: { metadata: { name: "web", labels: { env: "prod" } } },
  session: { participants: ["alice", "bob"] },
};

const ROWS: Array<{ name: string; where: string; ctx?: RuleContext; expect: boolean | "error" }> = [
  { name: "contains true", where: 'contains(user.spec.roles, "dev")', expect: true },
  { name: "contains false", where: 'contains(user.spec.roles, "admin")', expect: false },
  { name: "contains with an indexed trait", where: 'contains(user.spec.traits["groups"], "eng")', expect: true },
  { name: "contains a field of another root", where: "contains(session.participants, user.metadata.name)", expect: true },
  { name: "equals", where: 'equals(resource.metadata.labels["env"], "prod")', expect: true },
  { name: "equals false", where: 'equals(user.metadata.name, "bob")', expect: false },
  { name: "&&", where: 'contains(user.spec.roles, "dev") && equals(user.metadata.name, "alice")', expect: true },
  { name: "||", where: 'contains(user.spec.roles, "x") || equals(user.metadata.name, "alice")', expect: true },
  { name: "!", where: '!contains(user.spec.roles, "admin")', expect: true },
  { name: "precedence: && before ||", where: "true || false && false", expect: true },
  { name: "parentheses", where: "(true || false) && false", expect: false },
  { name: "missing nested key reads as absent", where: 'contains(user.spec.traits["teams"], "x")', expect: false },
  { name: "missing root is an error (fail closed)", where: 'equals(resource.metadata.name, "web")', ctx: { user: {} }, expect: "error" },
  { name: "unknown root is an error", where: 'contains(users.spec.roles, "dev")', expect: "error" },
  { name: "unknown function is an error", where: 'startswith(user.metadata.name, "a")', expect: "error" },
  { name: "garbage is an error", where: "contains(user.spec.roles", expect: "error" },
  { name: "a bare field is not a condition", where: "user.metadata.name", expect: "error" },
  { name: "deep nesting is refused", where: `${"(".repeat(100)}true${")".repeat(100)}`, expect: "error" },
];

describe("where", () => {
  for (const row of ROWS) {
    it(row.name, () => {
      const r = checkWhere(row.where, row.ctx ?? CTX);
      if (row.expect === "error") assert.equal(typeof r, "object");
      else assert.equal(r, row.expect);
    });
  }
});
