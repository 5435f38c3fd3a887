#!/usr/bin/env node
// `npm test`: makes sure the system peers the tests talk to are installed and
// running (a fresh Debian machine as root needs nothing done by hand), then runs
// the unit tests and the end-to-end tests with Node's test runner.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { ensurePeers } from "./peers.mjs";

// Node 20's test runner does not expand globs itself, so list the files here.
function find(dir, suffix) {
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory() && e.name !== "node_modules") out.push(...find(p, suffix));
    else if (e.isFile() && e.name.endsWith(suffix)) out.push(p);
  }
  return out.sort();
}

ensurePeers();

const node = process.execPath;
const common = ["--import", "tsx", "--test", "--test-reporter=spec"];
const suites = [
  ["unit", [...common, "--test-concurrency=2", ...find("src", ".test.ts")]],
  // The harness tests check the fakes and peers the e2e tests rely on (real kubectl against the fake API server).
  ["e2e", [...common, "--test-concurrency=1", ...find("test/harness", ".test.ts"), ...find("test/e2e", ".test.ts")]],
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
