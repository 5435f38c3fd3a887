/**
 * A real crash: a child process records a session (uploading parts live), is
 * killed with SIGKILL mid-output, and an uploader started afresh on its spool
 * directory completes the recording at a real RecordingStore.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { systemClock } from "../../../api/clock.ts";
import { RecordingStore } from "../../auth/recordings.ts";
import { type RecordingItem, RecordingParser } from "./format.ts";
import { childLine, MARKER } from "./testdata/record-child.ts";
import { tempDir, testLog, waitFor } from "./testkit.test-helpers.ts";
import { RecordingUploader } from "./uploader.ts";

interface PartMessage {
  id: number;
  sessionId: string;
  offset: number;
  data: string;
  complete: boolean;
  metadata?: Record<string, unknown>;
}

test("kill -9 mid-session: a fresh uploader completes the recording up to the kill", { timeout: 30_000 }, async (t) => {
  const root = tempDir(t);
  const spool = join(root, "spool");
  const store = new RecordingStore(join(root, "auth"));
  const sessionId = randomUUID();
  const child = spawn(process.execPath, ["--import", "tsx", join(import.meta.dirname, "testdata", "record-child.ts"), spool, sessionId], {
    stdio: ["ignore", "pipe", "inherit", "ipc"],
  });
  t.after(() => child.kill("SIGKILL"));
  child.on("message", (m: PartMessage) => {
    let reply: { id: number; size?: number; error?: string };
    try {
      reply = { id: m.id, size: store.append(m.sessionId, m.offset, Buffer.from(m.data, "base64"), m.complete, m.metadata) };
    } catch (e) {
      reply = { id: m.id, error: String(e) };
    }
    if (child.connected) child.send(reply);
  });
  let written = -1;
  let stdout = "";
  child.stdout?.on("data", (d: Buffer) => {
    stdout += d.toString();
    for (const m of stdout.matchAll(/written (\d+)\n/g)) written = Math.max(written, Number(m[1]));
  });

  // Let it record for a while, with parts reaching Auth as it goes.
  await waitFor(() => written >= 2000 && store.size(sessionId) > 0, "the child to record and upload", 20_000);
  const uploadedBeforeKill = store.size(sessionId);
  const mustHave = written;
  child.kill("SIGKILL");
  await new Promise((r) => child.once("exit", r));
  assert.equal(store.info(sessionId).complete, false);

  const log = testLog();
  const upload = async (p: { sessionId: string; offset: number; data: Buffer; complete: boolean; metadata?: Record<string, unknown> }) => ({
    size: store.append(p.sessionId, p.offset, p.data, p.complete, p.metadata),
  });
  const uploader = new RecordingUploader({ dir: spool, upload, clock: systemClock, log });
  t.after(() => uploader.close());
  await uploader.start();
  await waitFor(() => uploader.pending().length === 0, "the recovered upload", 10_000);

  const info = store.info(sessionId);
  assert.ok(info.complete);
  assert.ok(info.size > uploadedBeforeKill);
  assert.equal(info.metadata.node_name, "crash-node");
  assert.equal(info.metadata.end_reason, "interrupted");
  const p = new RecordingParser();
  const items: RecordingItem[] = [];
  for (const chunk of store.read(sessionId)) items.push(...p.push(chunk));
  items.push(...p.end());
  const text = items.map((i) => (i.type === "output" ? i.data : "")).join("");
  const head = `$ echo ${MARKER}\r\n${MARKER}\r\n`;
  assert.ok(text.startsWith(head), "the marker written before the kill is there");
  // Every line up to the kill, in order, none twice, none missing.
  let n = 0;
  let at = head.length;
  while (at < text.length) {
    const line = childLine(n);
    assert.equal(text.slice(at, at + line.length), line, `line ${n}`);
    at += line.length;
    n++;
  }
  assert.ok(n >= mustHave, `${n} lines recorded, but ${mustHave} were written 400 ms before the kill`);
  const end = items.at(-1);
  assert.equal(end?.type === "end" && end.reason, "interrupted");
  assert.ok(!existsSync(join(spool, `${sessionId}.rec`)));
});
