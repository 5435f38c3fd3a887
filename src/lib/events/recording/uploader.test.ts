/**
 * The spool recorder and the uploader together, against an in-memory fake of
 * Auth's recording store and against the real one on disk.
 */
import assert from "node:assert/strict";
import { appendFileSync, existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { FakeClock } from "../../../api/clock.ts";
import { RecordingStore } from "../../auth/recordings.ts";
import { type RecordingItem, RecordingParser } from "./format.ts";
import { createSpoolRecorderFactory } from "./recorder.ts";
import { FakeStore, type FlakyOptions, type StoreLike, sessionMeta, sleep, tempDir, testLog, uploadTo, waitFor } from "./testkit.test-helpers.ts";
import { RecordingUploader } from "./uploader.ts";

/** The real store behind the same small interface. */
class RealStore implements StoreLike {
  private readonly store: RecordingStore;
  constructor(dir: string) {
    this.store = new RecordingStore(dir);
  }
  append(id: string, offset: number, data: Buffer, complete: boolean, metadata?: Record<string, unknown>): number {
    return this.store.append(id, offset, data, complete, metadata);
  }
  get(id: string) {
    try {
      const info = this.store.info(id);
      return { data: Buffer.concat([...this.store.read(id)]), complete: info.complete, metadata: info.metadata };
    } catch {
      return undefined;
    }
  }
}

const START = new Date("2026-03-01T10:00:00Z");

function parse(data: Buffer): RecordingItem[] {
  const p = new RecordingParser();
  return [...p.push(data), ...p.end()];
}
const text = (items: RecordingItem[]) => items.map((i) => (i.type === "output" ? i.data : "")).join("");

function uploaderSuite(name: string, makeStore: (dir: string) => StoreLike) {
  describe(`recorder and uploader (${name} store)`, () => {
    function setup(t: { after(f: () => void): void }, o: FlakyOptions & { partBytes?: number } = {}) {
      const root = tempDir(t);
      const dir = join(root, "spool");
      const store = makeStore(join(root, "auth"));
      const clock = new FakeClock(START);
      const log = testLog();
      const up = uploadTo(store, o);
      const uploader = new RecordingUploader({
        dir,
        upload: up.upload,
        clock,
        log,
        liveIntervalMs: 20,
        retryMs: { initial: 5, max: 40 },
        ...(o.partBytes ? { partBytes: o.partBytes } : {}),
      });
      t.after(() => uploader.close());
      const recorders = createSpoolRecorderFactory({ dir, clock, uploader, log, spool: { flushIntervalMs: 10, syncIntervalMs: 10 } });
      return { dir, store, clock, log, up, uploader, recorders };
    }

    test("a session's text arrives complete, with its metadata, and the spool file goes", async (t) => {
      const { dir, store, clock, uploader, recorders, up } = setup(t);
      await uploader.start();
      const meta = sessionMeta(START);
      const rec = recorders(meta);
      const out = Buffer.from("$ echo recorded-marker ünïcödé 😀\r\nrecorded-marker ünïcödé 😀\r\n");
      let ms = 0;
      for (let i = 0; i < out.length; i += 5) {
        clock.advance(7);
        ms += 7;
        rec.output(out.subarray(i, i + 5));
      }
      rec.resize(132, 43);
      clock.advance(2000);
      await rec.close();
      await waitFor(() => uploader.pending().length === 0, "the upload");
      const got = store.get(meta.sessionId);
      assert.ok(got?.complete);
      const items = parse(got.data);
      assert.equal(text(items), out.toString());
      assert.ok(items.some((i) => i.type === "resize" && i.cols === 132 && i.rows === 43));
      assert.deepEqual(items.at(-1), { type: "end", time: (ms + 2000) / 1000, reason: "end", extra: {} });
      assert.equal(got.metadata.user, "alice");
      assert.equal(got.metadata.login, "root");
      assert.equal(got.metadata.node_name, "web-1");
      assert.equal(got.metadata.host_id, meta.hostId);
      assert.equal(got.metadata.start, START.toISOString());
      assert.deepEqual(got.metadata.participants, ["alice"]);
      assert.equal(got.metadata.session_type, "interactive");
      assert.equal(got.metadata.duration_ms, ms + 2000);
      assert.equal(got.metadata.end_reason, "end");
      assert.ok(up.calls[0]?.metadata?.user === "alice" && up.calls[0].bytes === 0, "the first call asks for the size and carries the metadata");
      assert.ok(!existsSync(join(dir, `${meta.sessionId}.rec`)));
    });

    test("a running session is mostly at Auth before it ends", async (t) => {
      const { store, uploader, recorders } = setup(t);
      await uploader.start();
      const meta = sessionMeta(START);
      const rec = recorders(meta);
      rec.output(Buffer.from("live-marker\r\n"));
      await waitFor(() => store.get(meta.sessionId)?.data.includes("live-marker") === true, "the live upload");
      assert.equal(store.get(meta.sessionId)?.complete, false);
      rec.output(Buffer.from("more\r\n"));
      await rec.close();
      await waitFor(() => store.get(meta.sessionId)?.complete === true, "completion");
      assert.equal(text(parse(store.get(meta.sessionId)?.data ?? Buffer.alloc(0))), "live-marker\r\nmore\r\n");
    });

    test("failed calls midway (before and after Auth stored the part) resume without duplicates or gaps", async (t) => {
      const { store, uploader, recorders, clock, up, log } = setup(t, {
        partBytes: 4096,
        fail: (n) => (n % 5 === 2 ? "before" : n % 5 === 4 ? "after" : undefined),
      });
      await uploader.start();
      const meta = sessionMeta(START);
      const rec = recorders(meta);
      let expected = "";
      for (let i = 0; i < 400; i++) {
        const line = `line ${i} ${"ж".repeat(i % 97)} ${"x".repeat(i % 13)}\r\n`;
        expected += line;
        clock.advance(3);
        rec.output(Buffer.from(line));
        if (i % 50 === 0) await sleep(15);
      }
      await rec.close();
      await waitFor(() => uploader.pending().length === 0, "the upload despite failures", 15_000);
      const got = store.get(meta.sessionId);
      assert.ok(got?.complete);
      assert.equal(text(parse(got.data)), expected);
      assert.ok(up.calls.filter((c) => c.failed === "after").length >= 3);
      assert.ok(up.calls.filter((c) => c.failed === "before").length >= 3);
      assert.ok(up.calls.every((c) => c.bytes <= 4096));
      assert.ok(log.lines.some((l) => l.msg.includes("will retry")));
    });

    test("a recorder killed without close() still yields a complete recording ending in interrupted", async (t) => {
      const { dir, store, uploader, recorders, clock, log } = setup(t);
      await uploader.start();
      const meta = sessionMeta(START);
      const rec = recorders(meta);
      // Only so the abandoned file handle is not closed by the garbage collector.
      t.after(() => rec.close());
      const path = join(dir, `${meta.sessionId}.rec`);
      for (let i = 0; i < 20; i++) {
        clock.advance(100);
        rec.output(Buffer.from(`before-kill ${i}\r\n`));
      }
      await waitFor(() => existsSync(path) && readFileSync(path, "utf8").includes("before-kill 19"), "the spool write");
      // The process dies: nothing more from this recorder or uploader; a write was torn.
      await uploader.close();
      appendFileSync(path, '[99,"o","torn wri');
      const again = new RecordingUploader({ dir, upload: uploadTo(store).upload, clock, log, retryMs: { initial: 5, max: 40 } });
      t.after(() => again.close());
      await again.start();
      await waitFor(() => again.pending().length === 0, "the recovered upload");
      const got = store.get(meta.sessionId);
      assert.ok(got?.complete);
      const items = parse(got.data);
      assert.equal(text(items), Array.from({ length: 20 }, (_, i) => `before-kill ${i}\r\n`).join(""));
      assert.deepEqual(items.at(-1), { type: "end", time: 2, reason: "interrupted", extra: {} });
      assert.equal(got.metadata.end_reason, "interrupted");
      assert.equal(got.metadata.user, "alice");
      assert.ok(!existsSync(path));
    });

    test("a recording closed while Auth was unreachable is completed after a restart, ending once", async (t) => {
      const { dir, store, uploader, recorders, clock, log } = setup(t, { fail: () => "before" });
      await uploader.start();
      const meta = sessionMeta(START);
      const rec = recorders(meta);
      rec.output(Buffer.from("offline\r\n"));
      await rec.close();
      await sleep(50);
      await uploader.close();
      assert.equal(store.get(meta.sessionId), undefined);
      const again = new RecordingUploader({ dir, upload: uploadTo(store).upload, clock, log });
      t.after(() => again.close());
      await again.start();
      await waitFor(() => again.pending().length === 0, "the upload after restart");
      const items = parse(store.get(meta.sessionId)?.data ?? Buffer.alloc(0));
      assert.equal(text(items), "offline\r\n");
      assert.deepEqual(
        items.filter((i) => i.type === "end").map((i) => i.type === "end" && i.reason),
        ["end"],
      );
    });

    test("Auth already holds it complete (crash before the file was deleted): confirmed, not resent", async (t) => {
      const { dir, store, recorders, clock, log } = setup(t);
      // No uploader is started for this recorder's spool: it writes, closes, and "crashes".
      const meta = sessionMeta(START);
      const rec = recorders(meta);
      rec.output(Buffer.from("already-complete\r\n"));
      await rec.close();
      const path = join(dir, `${meta.sessionId}.rec`);
      const bytes = readFileSync(path);
      store.append(meta.sessionId, 0, bytes, true, { user: "alice" });
      const up = uploadTo(store);
      const again = new RecordingUploader({ dir, upload: up.upload, clock, log });
      t.after(() => again.close());
      await again.start();
      await waitFor(() => again.pending().length === 0, "the confirmation");
      assert.deepEqual(store.get(meta.sessionId)?.data, bytes);
      assert.ok(up.calls.every((c) => c.bytes === 0));
      assert.ok(!existsSync(path));
    });
  });
}

uploaderSuite("in-memory fake", () => new FakeStore());
uploaderSuite("RecordingStore", (dir) => new RealStore(dir));
