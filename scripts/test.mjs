#!/usr/bin/env node
// `npm test`: makes sure the system peers the tests talk to are installed and
// running (a fresh Debian machine as root needs nothing done by hand), then checks
// formatting and lint rules, and runs the unit tests and the end-to-end tests with
// Node's test runner.
import { spawn, spawnSync } from "node:child_process";
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
const env = { ...process.env, JUMPGATE_TEST: "1" };

// End-to-end files mostly wait (daemons starting, certificates expiring, browsers), so they run in
// two lanes at once. The files that use the shared PostgreSQL and MariaDB servers are all in the
// first lane, so no two of them touch those servers at the same time; a few others join them so the
// lanes take about as long. The harness tests check the fakes and peers the e2e tests rely on (real
// kubectl against the fake API server).
const e2eFiles = [...find("test/harness", ".test.ts"), ...find("test/e2e", ".test.ts")];
const firstLane = /(^|\/)(db-[^/]*|daemon-config-file|web-ui|cluster-core|ssh-session-join|locks|backend-crash)\.e2e\.test\.ts$/;
const lanes = [
  ["e2e (lane 1: databases and more)", e2eFiles.filter((f) => firstLane.test(f))],
  ["e2e (lane 2)", e2eFiles.filter((f) => !firstLane.test(f))],
];

/** Runs one lane with its output kept, then prints it whole, so the two lanes' reports do not interleave. */
function runLane(name, files) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(node, [...common, "--test-concurrency=1", ...files], { env, stdio: ["ignore", "pipe", "pipe"] });
    const out = [];
    child.stdout.on("data", (b) => out.push(b));
    child.stderr.on("data", (b) => out.push(b));
    child.on("close", (code) => {
      console.log(`\n# ${name}: ${files.length} files, ${Math.round((Date.now() - started) / 1000)} s, ${code === 0 ? "passed" : "FAILED"}`);
      process.stdout.write(Buffer.concat(out));
      resolve(code === 0);
    });
  });
}

const only = process.argv[2];
let failed = false;
if (!only || only === "lint") {
  // Formatting and lint rules (biome.json) first: a second or two, and a clear list of what to fix.
  console.log("\n# lint (biome check src test; `npx biome check --write src test` fixes formatting)");
  const r = spawnSync(node, [join("node_modules", "@biomejs", "biome", "bin", "biome"), "check", "src", "test"], { stdio: "inherit", env });
  if (r.status !== 0) failed = true;
}
if (!only || only === "unit") {
  console.log("\n# unit tests");
  const r = spawnSync(node, [...common, "--test-concurrency=2", ...find("src", ".test.ts")], { stdio: "inherit", env });
  if (r.status !== 0) failed = true;
}
if (!only || only === "e2e") {
  console.log(`\n# e2e tests, in ${lanes.length} lanes (each lane's report follows when it ends)`);
  const results = await Promise.all(lanes.map(([name, files]) => runLane(name, files)));
  if (results.includes(false)) failed = true;
}
process.exit(failed ? 1 : 0);
