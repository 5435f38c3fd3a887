#!/usr/bin/env node
// `npm test`: makes sure the system peers the tests talk to are installed and
// running (a fresh Debian machine as root needs nothing done by hand), then runs
// the unit tests and the end-to-end tests with Node's test runner.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { ensurePeers } from "./peers.mjs";

ensurePeers();

const node = process.execPath;
const common = ["--import", "tsx", "--test", "--test-reporter=spec"];
const suites = [
  ["unit", [...common, "--test-concurrency=2", "src/**/*.test.ts"]],
  ["e2e", [...common, "--test-concurrency=1", "test/e2e/**/*.test.ts"]],
];
const only = process.argv[2];
let failed = false;
for (const [name, args] of suites) {
  if (only && only !== name) continue;
  console.log(`\n# ${name} tests`);
  const r = spawnSync(node, args, { stdio: "inherit", env: { ...process.env, JUMPGATE_TEST: "1" } });
  if (r.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
