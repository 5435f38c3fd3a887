#!/usr/bin/env node
// `npm test`: makes sure the system peers the tests talk to are installed and
// running (a fresh Debian machine as root needs nothing done by hand), then checks
// formatting and lint rules, and runs the unit tests and the end-to-end tests with
// Node's test runner.
import { spawn } from "node:child_process";
import { readdirSync, rmSync, statSync } from "node:fs";
import { homedir } from "node:os";
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

// A hazard of machines whose root ~/.bashrc runs `pyenv init` (the build machines do): every root
// login shell a test opens runs `pyenv rehash`, which holds a lock file while it works (well under a
// second). A test that kills a session (SIGHUP, then SIGKILL) while its shell holds that lock leaves
// the file behind, and every later root login then waits 60 s for it and the tests time out. A lock
// older than 15 s is stale: remove it, now and while the tests run. Elsewhere this does nothing.
const pyenvLock = join(process.env.PYENV_ROOT ?? join(homedir(), ".pyenv"), "shims", ".pyenv-shim");
function clearStalePyenvLock() {
  try {
    if (Date.now() - statSync(pyenvLock).mtimeMs > 15_000) rmSync(pyenvLock, { force: true });
  } catch {
    // no lock: nothing to do
  }
}
clearStalePyenvLock();
const watchdog = setInterval(clearStalePyenvLock, 2_000);

/** Runs a suite with its output passed through as it comes (the event loop keeps running for the watchdog). */
function runInherit(args) {
  return new Promise((resolve) => spawn(node, args, { stdio: "inherit", env }).on("close", (code) => resolve(code === 0)));
}

const only = process.argv[2];
let failed = false;
if (!only || only === "lint") {
  // Formatting and lint rules (biome.json) first: a second or two, and a clear list of what to fix.
  console.log("\n# lint (biome check src test; `npx biome check --write src test` fixes formatting)");
  if (!(await runInherit([join("node_modules", "@biomejs", "biome", "bin", "biome"), "check", "src", "test"]))) failed = true;
}
if (!only || only === "unit") {
  console.log("\n# unit tests");
  if (!(await runInherit([...common, "--test-concurrency=2", ...find("src", ".test.ts")]))) failed = true;
}
if (!only || only === "e2e") {
  console.log(`\n# e2e tests, in ${lanes.length} lanes (each lane's report follows when it ends)`);
  const results = await Promise.all(lanes.map(([name, files]) => runLane(name, files)));
  if (results.includes(false)) failed = true;
}
clearInterval(watchdog);
process.exit(failed ? 1 : 0);
