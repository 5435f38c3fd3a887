import assert from "node:assert/strict";
import { test } from "node:test";
import { planRoute } from "./plan.ts";

test("who terminates and records a route, by recording mode and node kind", () => {
  const cases: [string, boolean, { terminate: boolean; record: boolean }][] = [
    ["node", false, { terminate: false, record: false }],
    ["node", true, { terminate: true, record: true }],
    ["proxy", false, { terminate: true, record: true }],
    ["proxy", true, { terminate: true, record: true }],
    ["off", false, { terminate: false, record: false }],
    // sshd trusts every login in a certificate: the proxy still terminates to check the one asked for.
    ["off", true, { terminate: true, record: false }],
  ];
  for (const [mode, agentless, want] of cases) assert.deepEqual(planRoute(mode, { agentless }), want, `${mode}, agentless=${agentless}`);
});
