import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { LeaveKeys, renderSessions, type SessionRow } from "./sessions.ts";

const feed = (k: LeaveKeys, s: string) => {
  const r = k.feed(Buffer.from(s));
  return { forward: r.forward.toString(), leave: r.leave };
};

describe("LeaveKeys", () => {
  it("~. at the start of a line leaves, in any mode", () => {
    assert.deepEqual(feed(new LeaveKeys("peer"), "~."), { forward: "", leave: true });
    assert.deepEqual(feed(new LeaveKeys("peer"), "ls\r~."), { forward: "ls\r", leave: true });
    const split = new LeaveKeys("peer");
    assert.deepEqual(feed(split, "~"), { forward: "", leave: false });
    assert.deepEqual(feed(split, "."), { forward: "", leave: true });
  });

  it("a ~ elsewhere, or followed by anything else, is passed on", () => {
    assert.deepEqual(feed(new LeaveKeys("peer"), "cd ~.\r"), { forward: "cd ~.\r", leave: false });
    assert.deepEqual(feed(new LeaveKeys("peer"), "~/bin\r"), { forward: "~/bin\r", leave: false });
    assert.deepEqual(feed(new LeaveKeys("peer"), "~~."), { forward: "~.", leave: false });
  });

  it("Ctrl-C leaves for an observer and goes to the shell for a peer", () => {
    assert.deepEqual(feed(new LeaveKeys("observer"), "abc\x03def"), { forward: "abc", leave: true });
    assert.deepEqual(feed(new LeaveKeys("peer"), "sleep 9\r\x03"), { forward: "sleep 9\r\x03", leave: false });
  });
});

describe("renderSessions", () => {
  const row: SessionRow = {
    session_id: "5f3c8a9e-0000-4000-8000-000000000001",
    user: "alice",
    login: "root",
    node: "web-1",
    host_id: "0b5c3f0e-7d1e-4f39-9c55-1f2d2a6b9e01",
    participants: [
      { user: "alice", mode: "peer", joined: "2026-03-01T10:00:00.000Z" },
      { user: "bob", mode: "observer", joined: "2026-03-01T10:01:00.000Z" },
    ],
    started: "2026-03-01T10:00:00.000Z",
  };

  it("prints a table with the participants and their modes", () => {
    assert.equal(
      renderSessions([row], "text"),
      [
        "Session ID                           User  Login Node  Participants          Started",
        "------------------------------------ ----- ----- ----- --------------------- --------------------",
        "5f3c8a9e-0000-4000-8000-000000000001 alice root  web-1 alice, bob (observer) 2026-03-01T10:00:00Z",
      ].join("\n"),
    );
    assert.deepEqual(JSON.parse(renderSessions([row], "json")), [row]);
  });
});
