import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isJumpgateError } from "../errors.ts";
import { parseResource } from "./parse.ts";
import { type SessionTrackerSpec, sessionTrackerResource } from "./session-tracker.ts";

const SID = "5f3c8a9e-0000-4000-8000-000000000001";
const spec = (over: Partial<Record<keyof SessionTrackerSpec, unknown>> = {}) => ({
  session_id: SID,
  kind: "ssh",
  state: "active",
  login: "root",
  owner: "alice",
  participants: [
    { user: "alice", mode: "peer", joined: "2026-03-01T10:00:00Z" },
    { user: "bob", mode: "observer", joined: "2026-03-01T10:01:00.250Z" },
  ],
  host_id: "0b5c3f0e-7d1e-4f39-9c55-1f2d2a6b9e01",
  hostname: "web-1",
  created: "2026-03-01T10:00:00Z",
  ...over,
});
const doc = (s: unknown, metadata: Record<string, unknown> = { name: SID, expires: "2026-03-01T10:02:00Z" }) => ({
  kind: "session_tracker",
  version: "v1",
  metadata,
  spec: s,
});

const problem = (d: unknown): string => {
  try {
    parseResource(d);
  } catch (e) {
    assert.ok(isJumpgateError(e, "bad-parameter"), String(e));
    return e.message;
  }
  assert.fail("accepted");
};

describe("session_tracker schema", () => {
  it("accepts what a node writes", () => {
    const t = sessionTrackerResource(spec() as SessionTrackerSpec, new Date("2026-03-01T10:02:00Z"));
    assert.deepEqual(parseResource(t), t);
  });

  const bad: [string, unknown, string][] = [
    ["a state that does not exist", doc(spec({ state: "paused" })), 'spec.state: expected one of "active", "terminated", got "paused"'],
    ["another session kind", doc(spec({ kind: "k8s" })), 'spec.kind: expected one of "ssh", got "k8s"'],
    [
      "a participant's mode",
      doc(spec({ participants: [{ user: "bob", mode: "boss", joined: "2026-03-01T10:00:00Z" }] })),
      'spec.participants[0].mode: expected one of "observer", "moderator", "peer", got "boss"',
    ],
    ["a time that is not RFC 3339", doc(spec({ created: "yesterday" })), 'spec.created: invalid time "yesterday"'],
    ["an unknown field", doc({ ...spec(), terminal: "xterm" }), "spec.terminal: unknown field"],
    ["a missing owner", doc(spec({ owner: undefined })), "spec.owner: required"],
    ["a name other than the session ID", doc(spec(), { name: "other", expires: "2026-03-01T10:02:00Z" }), "spec.session_id: must equal metadata.name"],
    ["no expiry", doc(spec(), { name: SID }), "metadata.expires: required: a session tracker must expire"],
    ["a wrong version", { ...doc(spec()), version: "v2" }, 'unsupported version "v2" for kind session_tracker; supported: v1'],
  ];
  for (const [name, d, message] of bad) {
    it(`refuses ${name}`, () => {
      assert.match(problem(d), new RegExp(message.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")));
    });
  }
});
