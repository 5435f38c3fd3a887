/**
 * Storage-level crash safety: a process writing to the SQLite backend is killed
 * with SIGKILL in the middle of 1 000 concurrent writes; every write it
 * acknowledged must be in the file when it is reopened, and the revision
 * history must be intact (one event per revision, 1..N, no duplicates).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { after, it } from "node:test";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { SqliteBackend } from "../../src/lib/backend/index.ts";
import { crashValue } from "../../src/lib/backend/testdata/crash-writer.ts";

const root = fileURLToPath(new URL("../../", import.meta.url));
const writer = join(root, "src/lib/backend/testdata/crash-writer.ts");
const KEYS = 1000;
const KILL_AFTER = 300;

const dir = mkdtempSync(join(tmpdir(), "jumpgate-crash-"));
after(() => rmSync(dir, { recursive: true, force: true }));

interface Ack {
  key: string;
  version: number;
  revision: number;
}

/** Runs the writer, SIGKILLs it after KILL_AFTER acknowledgements, returns every ack it printed. */
async function writeAndKill(path: string): Promise<{ acks: Ack[]; signal: NodeJS.Signals | null }> {
  const child = spawn(process.execPath, ["--import", "tsx", writer, path, String(KEYS)], {
    cwd: root,
    stdio: ["ignore", "pipe", "inherit"],
  });
  const acks: Ack[] = [];
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on("close", (_code, signal) => resolve(signal)));
  const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
  for await (const line of createInterface({ input: child.stdout })) {
    const [tag, key, version, revision] = line.split(" ");
    if (tag !== "ack" || key === undefined) continue;
    acks.push({ key, version: Number(version), revision: Number(revision) });
    if (acks.length === KILL_AFTER) child.kill("SIGKILL");
  }
  clearTimeout(timer);
  return { acks, signal: await exited };
}

it("a SQLite backend killed mid-write keeps every acknowledged write", async () => {
  const path = join(dir, "crash.db");
  const { acks, signal } = await writeAndKill(path);
  assert.equal(signal, "SIGKILL");
  assert.ok(acks.length >= KILL_AFTER, `only ${acks.length} acks`);
  assert.ok(acks.length < KEYS * 1.25, "the writer finished before it was killed");
  assert.equal(new Set(acks.map((a) => a.revision)).size, acks.length, "two acks share a revision");

  const raw = new Database(path);
  assert.equal(raw.pragma("integrity_check", { simple: true }), "ok");
  raw.close();

  const backend = new SqliteBackend({ path, sweepIntervalMs: 0 });
  try {
    const latest = new Map<string, Ack>();
    for (const a of acks) if ((latest.get(a.key)?.version ?? 0) < a.version) latest.set(a.key, a);
    for (const a of latest.values()) {
      const item = await backend.get(a.key);
      assert.ok(item !== undefined, `acknowledged ${a.key} is missing`);
      assert.ok(item.revision >= a.revision, `${a.key} went back to revision ${item.revision}`);
      const stored = item.value.equals(crashValue(a.key, 2)) ? 2 : item.value.equals(crashValue(a.key, 1)) ? 1 : 0;
      assert.ok(stored >= a.version, `${a.key} holds version ${stored}, acknowledged ${a.version}`);
    }

    // The history is complete: revision r is the r-th event, and replays to the stored items.
    const current = await backend.currentRevision();
    const items = await backend.getRange({ prefix: "/crash/" });
    assert.equal(new Set(items.map((i) => i.revision)).size, items.length);
    const w = backend.watch({ prefixes: [], fromRevision: 0 });
    const lastRevision = new Map<string, number>();
    const it = w[Symbol.asyncIterator]();
    for (let r = 1; r <= current; r++) {
      const ev = await it.next();
      assert.equal(ev.done, false);
      assert.equal(ev.value?.item.revision, r);
      if (ev.value !== undefined) lastRevision.set(ev.value.item.key, r);
    }
    w.close();
    assert.deepEqual(
      items.map((i) => [i.key, i.revision]),
      [...lastRevision.entries()].sort(([a], [b]) => (a < b ? -1 : 1)),
    );
    for (const item of items) {
      assert.ok(item.key.startsWith("/crash/") && Number(item.key.slice(7)) < KEYS);
      assert.ok(item.value.equals(crashValue(item.key, 1)) || item.value.equals(crashValue(item.key, 2)), item.key);
    }
    const next = await backend.put({ key: "/after", value: Buffer.from("x") });
    assert.equal(next.revision, current + 1);
  } finally {
    await backend.close();
  }
});
