import assert from "node:assert/strict";
import { test } from "node:test";
import { EVENT_CODES, type EventCodeEntry, eventCode, isEventName } from "./codes.ts";

test("codes named by the design are stable", () => {
  const expected: [string, boolean | undefined, string][] = [
    ["user.login", true, "T1000I"],
    ["user.login", false, "T1000W"],
    ["user.create", undefined, "T1002I"],
    ["user.update", undefined, "T1003I"],
    ["user.delete", undefined, "T1004I"],
    ["role.created", undefined, "T9000I"],
    ["role.deleted", undefined, "T9001I"],
    ["cert.create", undefined, "TC000I"],
    ["auth", false, "T3007W"],
    ["session.start", undefined, "T2000I"],
    ["session.end", undefined, "T2004I"],
    ["exec", false, "T3002E"],
    ["db.session.query", undefined, "TDB02I"],
    ["app.session.start", undefined, "T2007I"],
    ["kube.request", undefined, "T3009I"],
    ["lock.created", undefined, "TLK00I"],
    ["access_request.create", undefined, "T5000I"],
    ["join", false, "TJ002E"],
  ];
  for (const [name, success, code] of expected) assert.equal(eventCode(name, success), code, `${name}/${success}`);
  assert.equal(eventCode("scp", true, "upload"), "T3005I");
  assert.equal(eventCode("scp", true, "constructor"), "T3004I");
  assert.equal(eventCode("no.such.event"), undefined);
  assert.equal(isEventName("toString"), false);
});

test("no code belongs to two different events", () => {
  const owner = new Map<string, string>();
  for (const [name, e] of Object.entries(EVENT_CODES) as [string, EventCodeEntry][]) {
    const codes = [e.success, e.failure, ...Object.values(e.actions ?? {}).flatMap((a) => [a.success, a.failure])];
    for (const c of codes) {
      if (c === undefined) continue;
      assert.match(c, /^T[A-Z0-9]{3,}[IWE]$/);
      const prev = owner.get(c);
      assert.ok(prev === undefined || prev === name, `${c} used by ${prev} and ${name}`);
      owner.set(c, name);
    }
  }
});
