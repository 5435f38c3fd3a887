/**
 * Child process for the crash test (test/e2e/backend-crash.e2e.test.ts):
 *   node --import tsx crash-writer.ts DB_PATH [KEYS]
 * Opens a SqliteBackend on DB_PATH and starts KEYS concurrent writers, each
 * creating its key (and every fourth one updating it again). When a write's
 * promise resolves (the write is acknowledged) it prints "ack KEY VERSION
 * REVISION" with a synchronous write, so the parent never sees an ack for a
 * write that is not acknowledged. The parent kills it with SIGKILL midway.
 */
import { createHash } from "node:crypto";
import { writeSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { SqliteBackend } from "../sqlite.ts";

/** The value version `version` of `key` holds: 2 KiB derived from both. */
export function crashValue(key: string, version: number): Buffer {
  const digest = createHash("sha256").update(`${key}#${version}`).digest();
  return Buffer.concat(Array.from({ length: 64 }, () => digest));
}

export function crashKey(i: number): string {
  return `/crash/${String(i).padStart(4, "0")}`;
}

async function main(path: string, keys: number): Promise<void> {
  const backend = new SqliteBackend({ path });
  writeSync(1, "ready\n");
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  await Promise.all(
    Array.from({ length: keys }, async (_, i) => {
      const key = crashKey(i);
      await sleep(Math.random() * 1000);
      const created = await backend.create({ key, value: crashValue(key, 1) });
      writeSync(1, `ack ${key} 1 ${created.revision}\n`);
      if (i % 4 !== 0) return;
      await sleep(Math.random() * 50);
      const updated = await backend.update({ key, value: crashValue(key, 2) });
      writeSync(1, `ack ${key} 2 ${updated.revision}\n`);
    }),
  );
  writeSync(1, "done\n");
  await backend.close();
}

const script = process.argv[1];
if (script !== undefined && import.meta.url === pathToFileURL(script).href) {
  const [path, keys] = process.argv.slice(2);
  if (path === undefined) throw new Error("usage: crash-writer.ts DB_PATH [KEYS]");
  await main(path, Number(keys ?? 1000));
}
