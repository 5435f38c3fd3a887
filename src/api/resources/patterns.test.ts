import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { compileFullMatchRegex, regexSafetyProblem } from "./patterns.ts";

describe("regexSafetyProblem", () => {
  const safe = ["^prod-[a-z]+$", "^(dev|staging)$", "^ip-[0-9]+-[0-9]+-[0-9]+-[0-9]+\\.ec2\\.internal$", "^a{2,5}$", "^[(+*]$", "^(ab)+$"];
  for (const s of safe) it(`accepts ${s}`, () => assert.equal(regexSafetyProblem(s), undefined));

  const unsafe: Array<[string, RegExp]> = [
    ["^(a+)+$", /repetition/],
    ["^(a*)*b$", /repetition/],
    ["^(.*a){10}$", /repetition/],
    ["^(a|aa)+$", /alternation/],
    ["^(\\w+\\s?)*$", /repetition/],
    ["^(a)\\1$", /back-references/],
    ["^(?<x>a)\\k<x>$", /back-references/],
    ["^.*.*.*.*.*.*.*$", /unbounded/],
    ["^(a$", /unbalanced/],
  ];
  for (const [s, why] of unsafe) it(`refuses ${s}`, () => assert.match(regexSafetyProblem(s) ?? "", why));
});

describe("compileFullMatchRegex", () => {
  it("matches the whole value, even with a top-level alternation", () => {
    const c = compileFullMatchRegex("^a|b$");
    assert.ok(c.ok);
    assert.ok(c.re.test("a") && c.re.test("b"));
    assert.ok(!c.re.test("ab") && !c.re.test("axxb") && !c.re.test("xb"));
  });
  it("translates Go's leading (?i) flag", () => {
    const c = compileFullMatchRegex("^(?i)prod-.*$");
    assert.ok(c.ok);
    assert.ok(c.re.test("PROD-1"));
  });
  it("reports syntax errors instead of throwing", () => {
    const c = compileFullMatchRegex("^[a-$");
    assert.equal(c.ok, false);
  });
  it("refuses overly long patterns", () => {
    const c = compileFullMatchRegex(`^${"a".repeat(300)}$`);
    assert.deepEqual(c, { ok: false, problem: "longer than 256 characters" });
  });
});
