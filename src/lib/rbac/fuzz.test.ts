import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { compilePattern, matchPattern } from "./labels.ts";
import { expandTemplate } from "./templates.ts";
import { checkWhere } from "./where.ts";

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const PIECES = [
  "{{",
  "}}",
  "(",
  ")",
  "[",
  "]",
  '"',
  ",",
  ".",
  "internal",
  "external",
  "logins",
  "email.local",
  "regexp.replace",
  "&&",
  "||",
  "!",
  "contains",
  "equals",
  "user",
  "spec",
  "*",
  "^",
  "$",
  "+",
  "|",
  "\\",
  " ",
  "a",
  "1",
];

function randomText(next: () => number): string {
  let s = "";
  const n = Math.floor(next() * 12);
  for (let i = 0; i < n; i++) s += PIECES[Math.floor(next() * PIECES.length)] ?? "";
  return s;
}

describe("fuzz: template, where and pattern parsers never throw", () => {
  it("random inputs", () => {
    const next = rng(7);
    const traits = { logins: ["a", "b"], email: ["a@b.c"] };
    for (let i = 0; i < 5000; i++) {
      const text = randomText(next);
      const t = expandTemplate(text, traits);
      assert.ok(Array.isArray(t.values));
      const w = checkWhere(text, { user: { spec: { roles: ["x"] } } });
      assert.ok(typeof w === "boolean" || typeof w.error === "string");
      const o = matchPattern(compilePattern(text), "abc");
      assert.ok(o === "match" || o === "no-match" || o === "error");
    }
  });
});
