import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isJumpgateError } from "../errors.ts";
import { parseResource } from "./parse.ts";
import { parseYamlDocuments } from "./yaml.ts";

/** A small seeded generator, so a failure reproduces. */
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const SEED_DOC = `kind: role
version: v7
metadata:
  name: dev
  labels: {team: a}
spec:
  allow:
    logins: ['{{internal.logins}}', ubuntu]
    node_labels: {env: [dev, '^st.*$'], '*': '*'}
    rules: [{resources: [node], verbs: [read], where: 'contains(user.spec.roles, "x")'}]
  options: {max_session_ttl: 8h}
`;
const ALPHABET = ["\n", " ", ":", "-", "[", "]", "{", "}", "'", '"', "*", "&a", "*a", "!!str", "---", "null", "1", "^", "$", "\\", "\u0000", "__proto__"];

describe("fuzz: parseYamlDocuments / parseResource", () => {
  it("mutated documents either parse or fail with bad-parameter, never anything else", () => {
    const next = rng(42);
    for (let round = 0; round < 1500; round++) {
      let text = SEED_DOC;
      const edits = 1 + Math.floor(next() * 4);
      for (let e = 0; e < edits; e++) {
        const at = Math.floor(next() * text.length);
        const cut = Math.floor(next() * 4);
        const piece = ALPHABET[Math.floor(next() * ALPHABET.length)] ?? "";
        text = text.slice(0, at) + piece + text.slice(at + cut);
      }
      try {
        parseYamlDocuments(text, "fuzz.yaml");
      } catch (e) {
        assert.ok(isJumpgateError(e, "bad-parameter"), `round ${round}: ${String(e)}\n${text}`);
      }
    }
  });

  it("arbitrary JSON values fail with bad-parameter", () => {
    const values: unknown[] = [
      null,
      0,
      "x",
      [],
      {},
      { kind: null },
      { kind: "role", version: "v7", metadata: [] },
      { kind: "role", version: "v7", metadata: { name: "a" }, spec: [] },
    ];
    for (const v of values) {
      assert.throws(
        () => parseResource(v),
        (e) => isJumpgateError(e, "bad-parameter"),
      );
    }
  });
});
