/** The recorded fixtures under testdata/ (see testdata/capture.mjs). */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { type MysqlPacket, PacketScanner } from "./codec.ts";

const TESTDATA = join(import.meta.dirname, "testdata");

/** The packets of one recorded direction (NAME.client.hex or NAME.server.hex). */
export function recorded(name: string, dir: "client" | "server"): MysqlPacket[] {
  const lines = readFileSync(join(TESTDATA, `${name}.${dir}.hex`), "utf8")
    .trim()
    .split("\n");
  const s = new PacketScanner({ maxPacketBytes: 1 << 26 });
  const out = lines.flatMap((l) => s.push(Buffer.from(l, "hex")));
  assert.ok(s.atBoundary, `${name}.${dir} ends between packets`);
  return out;
}
