import assert from "node:assert/strict";
import { networkInterfaces } from "node:os";
import { test } from "node:test";
import { announcedAddr } from "./node.ts";

test("a node announces its public address when it has one, else where it listens", () => {
  assert.equal(announcedAddr("127.0.0.1", 3022, "node-1.example.com:3022"), "node-1.example.com:3022");
  assert.equal(announcedAddr("10.0.0.5", 3022), "10.0.0.5:3022");
  assert.equal(announcedAddr("::1", 3022), "[::1]:3022");
});

test("a wildcard listen address is announced as a reachable address, not as 0.0.0.0", () => {
  const external = Object.values(networkInterfaces())
    .flat()
    .find((i) => i !== undefined && i.family === "IPv4" && !i.internal);
  const want = `${external?.address ?? "127.0.0.1"}:3022`;
  assert.equal(announcedAddr("0.0.0.0", 3022), want);
  assert.equal(announcedAddr("::", 3022), want);
});
