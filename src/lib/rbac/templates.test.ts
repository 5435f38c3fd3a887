import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Traits } from "./decision.ts";
import { expandTemplate, expandValues } from "./templates.ts";

const TRAITS: Traits = {
  logins: ["alice", "ops"],
  db_users: ["reader"],
  kubernetes_groups: ["viewers"],
  email: ["alice@example.com", "Alice <alice.smith@corp.example>"],
  groups: ["admin-db", "admin-web", "dev"],
  "saml-groups": ["Eng"],
  broken: ["not-an-email"],
};

const ROWS: Array<{ name: string; value: string; traits?: Traits; expect: string[]; problem?: RegExp }> = [
  { name: "literal passes through", value: "ubuntu", expect: ["ubuntu"] },
  { name: "internal.logins", value: "{{internal.logins}}", expect: ["alice", "ops"] },
  { name: "internal.db_users", value: "{{internal.db_users}}", expect: ["reader"] },
  { name: "internal.kubernetes_groups", value: "{{internal.kubernetes_groups}}", expect: ["viewers"] },
  { name: "external.X", value: "{{external.groups}}", expect: ["admin-db", "admin-web", "dev"] },
  { name: 'external["X"] for names with dashes', value: '{{external["saml-groups"]}}', expect: ["Eng"] },
  { name: "spaces inside the braces", value: "{{ internal.logins }}", expect: ["alice", "ops"] },
  { name: "email.local", value: "{{email.local(external.email)}}", expect: ["alice", "alice.smith"] },
  {
    name: "email.local drops what is not an email, with a reason",
    value: "{{email.local(external.broken)}}",
    expect: [],
    problem: /not an email address/,
  },
  { name: "regexp.replace keeps matches, drops the rest", value: '{{regexp.replace(external.groups, "^admin-(.*)$", "$1")}}', expect: ["db", "web"] },
  // biome-ignore lint/suspicious/noTemplateCurlyInString: Go's ${1} replacement syntax, on purpose
  { name: "regexp.replace with Go's ${1}", value: '{{regexp.replace(external.groups, "^admin-(.*)$", "x-${1}")}}', expect: ["x-db", "x-web"] },
  { name: "strings.upper", value: '{{strings.upper(external["saml-groups"])}}', expect: ["ENG"] },
  { name: "nested functions", value: "{{strings.lower(email.local(external.email))}}", expect: ["alice", "alice.smith"] },
  { name: "prefix", value: "prefix-{{internal.logins}}", expect: ["prefix-alice", "prefix-ops"] },
  { name: "prefix and suffix", value: "u-{{internal.logins}}-x", expect: ["u-alice-x", "u-ops-x"] },
  { name: "missing trait expands to nothing", value: "{{external.nope}}", expect: [] },
  { name: "missing internal trait expands to nothing", value: "{{internal.db_names}}", expect: [] },
  { name: "missing trait with prefix is dropped, not left as the prefix", value: "p-{{external.nope}}", expect: [] },
  { name: "unknown namespace", value: "{{interal.logins}}", expect: [], problem: /unknown namespace "interal"/ },
  { name: "unknown internal trait", value: "{{internal.email}}", expect: [], problem: /internal.email is not an internal trait/ },
  { name: "unknown function", value: "{{email.domain(external.email)}}", expect: [], problem: /unknown function email.domain/ },
  { name: "unbalanced braces", value: "{{internal.logins", expect: [], problem: /unbalanced/ },
  { name: "two templates in one value", value: "{{internal.logins}}-{{internal.logins}}", expect: [], problem: /only one/ },
  { name: "trailing garbage", value: "{{internal.logins foo}}", expect: [], problem: /unexpected "foo"/ },
  { name: "wrong arity", value: '{{regexp.replace(external.groups, "x")}}', expect: [], problem: /takes 3 arguments/ },
  { name: "unsafe regex in regexp.replace", value: '{{regexp.replace(external.groups, "(a+)+", "x")}}', expect: [], problem: /repetition/ },
  { name: "a user-supplied prototype key is not a trait", value: "{{external.constructor}}", expect: [] },
];

describe("expandTemplate", () => {
  for (const row of ROWS) {
    it(row.name, () => {
      const r = expandTemplate(row.value, row.traits ?? TRAITS);
      assert.deepEqual(r.values, row.expect);
      if (row.problem === undefined) assert.equal(r.problem, undefined);
      else assert.match(r.problem ?? "", row.problem);
    });
  }
});

describe("expandValues", () => {
  it("expands, deduplicates in order, and collects problems", () => {
    const r = expandValues(["{{internal.logins}}", "alice", "{{internal.nope}}", "root"], TRAITS);
    assert.deepEqual(r.values, ["alice", "ops", "root"]);
    assert.equal(r.problems.length, 1);
  });
});
