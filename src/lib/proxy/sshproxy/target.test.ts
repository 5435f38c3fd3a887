import assert from "node:assert/strict";
import { test } from "node:test";
import { hostOf } from "../sshconn.ts";
import { hostCandidates, parseProxySubsystem } from "./target.ts";

test("proxy subsystem names parse like Teleport's", () => {
  const cases: [string, ReturnType<typeof parseProxySubsystem>][] = [
    ["proxy:web-1:22", { host: "web-1", port: 22 }],
    ["proxy:web-1", { host: "web-1", port: 0 }],
    ["proxy:web-1.example:2222@example", { host: "web-1.example", port: 2222, cluster: "example" }],
    ["proxy:[::1]:22", { host: "::1", port: 22 }],
    ["proxy:[fe80::1]", { host: "fe80::1", port: 0 }],
    ["proxy:6f2c0d1e-0000-4000-8000-000000000001:0", { host: "6f2c0d1e-0000-4000-8000-000000000001", port: 0 }],
  ];
  for (const [name, want] of cases) assert.deepEqual(parseProxySubsystem(name), want, name);
  for (const bad of [
    "sftp",
    "proxy:",
    "proxy::22",
    "proxy:a:b",
    "proxy:a:99999",
    "proxy:a:1:2",
    "proxy:a b:22",
    "proxy:a:22@",
    "proxy:a\n:22",
    `proxy:${"a".repeat(2000)}:22`,
  ]) {
    assert.equal(parseProxySubsystem(bad), undefined, JSON.stringify(bad));
  }
});

test("never throws on arbitrary subsystem names", () => {
  let seed = 7;
  const rnd = () => {
    seed = (seed * 48271) % 2147483647;
    return seed / 2147483647;
  };
  const alphabet = "proxy:[]@.:-_0123456789abc \u0000\u00ff\u2028";
  for (let i = 0; i < 5000; i++) {
    const len = Math.floor(rnd() * 40);
    const name = `proxy:${Array.from({ length: len }, () => alphabet[Math.floor(rnd() * alphabet.length)]).join("")}`;
    const r = parseProxySubsystem(name);
    if (r) assert.ok(r.host.length > 0 && r.port >= 0 && r.port <= 65535);
  }
});

test("NAME.CLUSTER is looked up as NAME first", () => {
  assert.deepEqual(hostCandidates("web-1.example", "example"), ["web-1", "web-1.example"]);
  assert.deepEqual(hostCandidates("web-1.EXAMPLE", "example"), ["web-1", "web-1.EXAMPLE"]);
  assert.deepEqual(hostCandidates("web-1", "example"), ["web-1"]);
  assert.deepEqual(hostCandidates(".example", "example"), [".example"]);
  assert.deepEqual(hostCandidates("web-1.example"), ["web-1.example"]);
});

test("hostOf takes the IP out of an address", () => {
  assert.equal(hostOf("10.0.0.1:22"), "10.0.0.1");
  assert.equal(hostOf("[::1]:22"), "::1");
  assert.equal(hostOf("::ffff:127.0.0.1:5555"), "::ffff:127.0.0.1");
  assert.equal(hostOf("weird"), "weird");
});
