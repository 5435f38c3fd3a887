import assert from "node:assert/strict";
import { test } from "node:test";
import { isJumpgateError } from "../../api/errors.ts";
import { formatDuration, parseDuration } from "./duration.ts";
import { formatHostPort, parseHostPort } from "./hostport.ts";

test("parseHostPort accepts host:port, [v6]:port, :port and default ports", () => {
  assert.deepEqual(parseHostPort("127.0.0.1:3025"), { host: "127.0.0.1", port: 3025 });
  assert.deepEqual(parseHostPort("proxy.example.com:443"), { host: "proxy.example.com", port: 443 });
  assert.deepEqual(parseHostPort("[::1]:3080"), { host: "::1", port: 3080 });
  assert.deepEqual(parseHostPort(":3080"), { host: "0.0.0.0", port: 3080 });
  assert.deepEqual(parseHostPort("proxy.example.com", 3080), { host: "proxy.example.com", port: 3080 });
  assert.deepEqual(parseHostPort("::1", 3080), { host: "::1", port: 3080 });
  assert.deepEqual(parseHostPort("[fe80::1]", 22), { host: "fe80::1", port: 22 });
  assert.deepEqual(parseHostPort("localhost:0"), { host: "localhost", port: 0 });
});

test("parseHostPort refuses malformed addresses with bad-parameter", () => {
  for (const bad of ["", "host", "host:", "host:x", "host:70000", "a b:1", "[::1", "[zz]:1", "::1:80", "host:1:2", ":"]) {
    assert.throws(
      () => parseHostPort(bad),
      (e) => isJumpgateError(e, "bad-parameter"),
      bad,
    );
  }
});

test("formatHostPort brackets IPv6", () => {
  assert.equal(formatHostPort({ host: "::1", port: 1 }), "[::1]:1");
  assert.equal(formatHostPort({ host: "a.b", port: 2 }), "a.b:2");
});

test("durations in Go style", () => {
  assert.equal(parseDuration("20m"), 1_200_000);
  assert.equal(parseDuration("1h30m"), 5_400_000);
  assert.equal(parseDuration("500ms"), 500);
  assert.equal(parseDuration("1.5s"), 1500);
  assert.equal(parseDuration("2d"), 172_800_000);
  assert.equal(parseDuration("0"), 0);
  for (const bad of ["", "20", "m", "1x", "1h 30m", "-1s"]) assert.throws(() => parseDuration(bad), bad);
  assert.equal(formatDuration(5_400_000), "1h30m");
  assert.equal(formatDuration(0), "0s");
});
