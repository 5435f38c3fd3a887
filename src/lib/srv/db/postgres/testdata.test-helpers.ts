/** Captured bytes (testdata/*.hex, one line per TCP read; see testdata/capture.mjs). */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const DIR = join(import.meta.dirname, "testdata");

/** The chunks of one capture, e.g. fixture("psql-select1.0.client"). */
export function fixture(name: string): Buffer[] {
  return readFileSync(join(DIR, `${name}.hex`), "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => Buffer.from(l.trim(), "hex"));
}

/** Every capture of one direction ("client" or "server"), by name. */
export function allFixtures(side: "client" | "server"): Map<string, Buffer[]> {
  const out = new Map<string, Buffer[]>();
  for (const f of readdirSync(DIR).sort()) {
    if (f.endsWith(`.${side}.hex`)) out.set(f.slice(0, -4), fixture(f.slice(0, -4)));
  }
  return out;
}

/** The same bytes cut at other places: one byte at a time, and in pieces of `size`. */
export function resplit(chunks: Buffer[], size: number): Buffer[] {
  const all = Buffer.concat(chunks);
  const out: Buffer[] = [];
  for (let i = 0; i < all.length; i += size) out.push(all.subarray(i, i + size));
  return out;
}
