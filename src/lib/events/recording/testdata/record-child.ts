/**
 * Child process for the crash test (../crash.test.ts):
 *   node --import tsx record-child.ts SPOOL_DIR SESSION_ID
 * Records one session that prints without pause: "marker-before-kill", then
 * numbered lines forever. Parts are uploaded live through the IPC channel (the
 * parent stores them in a real RecordingStore). Every 100 ms it prints
 * "written N" (synchronously) where N counts the lines recorded at least 400 ms
 * earlier, which the spool must hold by now. The parent kills it with SIGKILL.
 */
import { writeSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { systemClock } from "../../../../api/clock.ts";
import { createSpoolRecorderFactory, type RecordingPart, RecordingUploader } from "../index.ts";

export const MARKER = "marker-before-kill";
export const childLine = (i: number) => `line ${i} ёжик ${"=".repeat(i % 40)}\r\n`;

interface Reply {
  id: number;
  size?: number;
  error?: string;
}

async function main(dir: string, sessionId: string): Promise<void> {
  const waiting = new Map<number, (r: Reply) => void>();
  let next = 0;
  process.on("message", (m: Reply) => waiting.get(m.id)?.(m));
  const upload = (part: RecordingPart) =>
    new Promise<{ size: number }>((resolve, reject) => {
      const id = ++next;
      waiting.set(id, (r) => {
        waiting.delete(id);
        if (r.size === undefined) reject(new Error(r.error ?? "upload failed"));
        else resolve({ size: r.size });
      });
      const sent = process.send?.({ id, ...part, data: part.data.toString("base64") });
      if (!sent) reject(new Error("no IPC channel"));
    });
  const quiet = { debug() {}, info() {}, warn() {} };
  const uploader = new RecordingUploader({ dir, upload, clock: systemClock, log: quiet, liveIntervalMs: 50 });
  await uploader.start();
  const record = createSpoolRecorderFactory({ dir, clock: systemClock, uploader });
  const rec = record({
    sessionId,
    user: "alice",
    login: "root",
    hostId: "5f3c0c52-4a43-4bd8-9d0b-0a4b5b0c1d2e",
    nodeName: "crash-node",
    cols: 80,
    rows: 24,
    start: new Date(),
    remoteAddr: "192.0.2.9:40000",
  });
  rec.output(Buffer.from(`$ echo ${MARKER}\r\n${MARKER}\r\n`));
  let lines = 0;
  const history: Array<{ at: number; lines: number }> = [];
  setInterval(() => {
    const now = Date.now();
    history.push({ at: now, lines });
    while (history.length > 1 && (history[1]?.at ?? now) <= now - 400) history.shift();
    const old = history[0];
    if (old && old.at <= now - 400) writeSync(1, `written ${old.lines}\n`);
  }, 100);
  setInterval(() => {
    for (let k = 0; k < 20; k++) rec.output(Buffer.from(childLine(lines++)));
  }, 1);
}

const script = process.argv[1];
if (script !== undefined && import.meta.url === pathToFileURL(script).href) {
  const [dir, sessionId] = process.argv.slice(2);
  if (dir === undefined || sessionId === undefined) throw new Error("usage: record-child.ts SPOOL_DIR SESSION_ID");
  await main(dir, sessionId);
}
