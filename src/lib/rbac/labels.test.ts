import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { LabelSelectorInput, Labels } from "./decision.ts";
import { compileTemplatedPattern, matchLabels, matchPattern, matchValue } from "./labels.ts";

const ROWS: Array<{ name: string; selector: LabelSelectorInput; labels: Labels; expect: boolean }> = [
  { name: "exact value", selector: { env: "prod" }, labels: { env: "prod" }, expect: true },
  { name: "exact value differs", selector: { env: "prod" }, labels: { env: "production" }, expect: false },
  { name: "missing key", selector: { env: "prod" }, labels: { team: "db" }, expect: false },
  { name: "key present, value *", selector: { env: "*" }, labels: { env: "anything" }, expect: true },
  { name: "value * still needs the key", selector: { env: "*" }, labels: {}, expect: false },
  { name: "'*': '*' matches no labels at all", selector: { "*": "*" }, labels: {}, expect: true },
  { name: "'*': '*' beats other keys", selector: { "*": "*", env: "prod" }, labels: { env: "dev" }, expect: true },
  { name: "empty selector matches nothing", selector: {}, labels: { env: "prod" }, expect: false },
  { name: "glob prefix", selector: { host: "prod-*" }, labels: { host: "prod-web-1" }, expect: true },
  { name: "glob prefix no match", selector: { host: "prod-*" }, labels: { host: "staging-prod-1" }, expect: false },
  { name: "glob in the middle", selector: { host: "web-*.example.com" }, labels: { host: "web-12.example.com" }, expect: true },
  { name: "glob with several stars", selector: { host: "*-db-*" }, labels: { host: "eu-db-3" }, expect: true },
  { name: "glob needs pieces in order", selector: { host: "a*b*c" }, labels: { host: "acb" }, expect: false },
  { name: "glob: other regex characters are literal", selector: { v: "1.*" }, labels: { v: "1x5" }, expect: false },
  { name: "regex full match", selector: { env: "^(dev|staging)$" }, labels: { env: "staging" }, expect: true },
  { name: "regex must match the whole value", selector: { env: "^dev|staging$" }, labels: { env: "staging-2" }, expect: false },
  { name: "regex with Go's (?i)", selector: { env: "^(?i)PROD$" }, labels: { env: "prod" }, expect: true },
  { name: "invalid regex never matches, never throws", selector: { env: "^[a-$" }, labels: { env: "a" }, expect: false },
  { name: "catastrophic regex refused, no match", selector: { env: "^(a+)+$" }, labels: { env: `${"a".repeat(40)}!` }, expect: false },
  { name: "regex on a huge value is not attempted", selector: { env: "^a.*$" }, labels: { env: `a${"x".repeat(5000)}` }, expect: false },
  { name: "glob on a huge value is fine", selector: { env: "a*" }, labels: { env: `a${"x".repeat(5000)}` }, expect: true },
  { name: "list of values: any one", selector: { env: ["dev", "staging"] }, labels: { env: "staging" }, expect: true },
  { name: "list of values: none", selector: { env: ["dev", "staging"] }, labels: { env: "prod" }, expect: false },
  { name: "every key must match", selector: { env: "prod", team: "db" }, labels: { env: "prod", team: "web" }, expect: false },
  { name: "every key matches", selector: { env: "prod", team: "db" }, labels: { env: "prod", team: "db", os: "linux" }, expect: true },
  { name: "prototype keys are not labels", selector: { constructor: "*" }, labels: {}, expect: false },
  { name: "empty label value matches *", selector: { env: "*" }, labels: { env: "" }, expect: true },
];

describe("matchLabels", () => {
  for (const row of ROWS) it(row.name, () => assert.equal(matchLabels(row.selector, row.labels), row.expect));
});

describe("matchValue", () => {
  it("pattern forms", () => {
    assert.ok(matchValue("*", "x"));
    assert.ok(matchValue("^db-[0-9]+$", "db-42"));
    assert.ok(!matchValue("^db-[0-9]+$", "db-42a"));
  });
});

describe("templated patterns take the trait value literally", () => {
  it("a trait value of * does not become a wildcard", () => {
    assert.equal(matchPattern(compileTemplatedPattern("", "*", ""), "prod"), "no-match");
    assert.equal(matchPattern(compileTemplatedPattern("", "*", ""), "*"), "match");
  });
  it("the author's glob around a trait still works", () => {
    const p = compileTemplatedPattern("team-", "a*b", "-*");
    assert.equal(matchPattern(p, "team-a*b-1"), "match");
    assert.equal(matchPattern(p, "team-axxb-1"), "no-match");
  });
  it("the author's regex around a trait escapes the trait", () => {
    const p = compileTemplatedPattern("^", "a.b", "-[0-9]+$");
    assert.equal(matchPattern(p, "a.b-12"), "match");
    assert.equal(matchPattern(p, "axb-12"), "no-match");
  });
});
