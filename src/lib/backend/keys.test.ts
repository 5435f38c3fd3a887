import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { compareKeys, inBounds, matchesPrefixes, prefixEnd, rangeBounds, validateKey } from "./keys.ts";

const utf8Order = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

describe("keys", () => {
  it("compareKeys agrees with UTF-8 byte order", () => {
    const alphabet = ["a", "z", "/", "\u007f", "\u00e9", "\u0800", "\ud7ff", "\ue000", "\uffee", "\u{10000}", "\u{1f600}"];
    let seed = 7;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const word = () => Array.from({ length: 1 + rnd(4) }, () => alphabet[rnd(alphabet.length)]).join("");
    for (let i = 0; i < 5000; i++) {
      const a = word();
      const b = word();
      assert.equal(Math.sign(compareKeys(a, b)), Math.sign(utf8Order(a, b)), `${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
    }
  });

  it("prefixEnd is the first key after every key with the prefix", () => {
    assert.equal(prefixEnd("/users/"), "/users0");
    assert.equal(prefixEnd("a\u{10ffff}"), "b");
    assert.equal(prefixEnd("\u{10ffff}"), undefined);
    assert.equal(prefixEnd(""), undefined);
    assert.equal(prefixEnd("x\ud7ff"), "x\ue000");
    assert.equal(prefixEnd("x\uffff"), "x\u{10000}");
    const b = rangeBounds({ prefix: "/a/" });
    for (const k of ["/a/", "/a/x", "/a/\u{10ffff}\u{10ffff}"]) assert.ok(inBounds(k, b), k);
    for (const k of ["/a", "/a0", "/b/", "/"]) assert.ok(!inBounds(k, b), k);
  });

  it("rejects keys the stores cannot hold", () => {
    for (const bad of ["", "a\u0000b", "\ud800", "x\udc00y", "k".repeat(5000)]) {
      assert.throws(() => validateKey(bad), /key/);
    }
    assert.equal(validateKey("/users/\u{1f600}"), "/users/\u{1f600}");
  });

  it("an empty prefix list matches everything", () => {
    assert.ok(matchesPrefixes("/x", []));
    assert.ok(matchesPrefixes("/x/1", ["/y/", "/x/"]));
    assert.ok(!matchesPrefixes("/z", ["/y/", "/x/"]));
  });
});
