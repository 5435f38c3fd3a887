import assert from "node:assert/strict";
import { test } from "node:test";
import { isJumpgateError } from "./errors.ts";
import { decodeDialRequest, encodeDialRequest } from "./reversetunnel.ts";

test("dial requests round-trip", () => {
  for (const req of [{ clientAddr: "10.0.0.1:5555" }, { clientAddr: "[::1]:1", target: "web-1:22" }]) {
    assert.deepEqual(decodeDialRequest(encodeDialRequest(req)), req);
  }
  assert.deepEqual(decodeDialRequest('{"v":1,"client":"a:1","future":true}'), { clientAddr: "a:1" });
});

test("malformed dial requests are refused as bad-parameter", () => {
  const bad = [
    "",
    "null",
    "[]",
    "{",
    '{"v":2,"client":"a"}',
    '{"v":1}',
    '{"v":1,"client":1}',
    '{"v":1,"client":"a","target":5}',
    `{"v":1,"client":"${"x".repeat(5000)}"}`,
  ];
  for (const text of bad) {
    assert.throws(
      () => decodeDialRequest(text),
      (e) => isJumpgateError(e, "bad-parameter"),
      text.slice(0, 40),
    );
  }
  assert.throws(
    () => encodeDialRequest({ clientAddr: "x".repeat(5000) }),
    (e) => isJumpgateError(e, "bad-parameter"),
  );
});
