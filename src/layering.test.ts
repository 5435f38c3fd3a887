import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { test } from "node:test";

/**
 * STYLE §5 and DESIGN §7: a folder is imported only through its index.ts, and
 * dependencies point down the layers, never up.
 */
const SRC = resolve(import.meta.dirname);
const RANK: Record<string, number> = {
  api: 0,
  "lib/backend": 1,
  "lib/crypto": 1,
  "lib/rbac": 2,
  "lib/ssh": 2,
  "lib/services": 2,
  "lib/events": 2,
  "lib/config": 2,
  "lib/observability": 2,
  "lib/httpfwd": 2,
  "lib/auth": 3,
  "lib/proxy": 3,
  "lib/tunnel": 3,
  "lib/srv": 3,
  "lib/client": 4,
  "lib/service": 4,
  cli: 5,
};

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return e.name === "gen" ? [] : files(p);
    return e.name.endsWith(".ts") && !e.name.endsWith(".test.ts") && !e.name.includes(".test-") ? [p] : [];
  });
}

function moduleOf(file: string): string | undefined {
  const rel = relative(SRC, file).split("/");
  // Test helpers outside src (test/harness) are not part of the layers.
  if (rel[0] === "..") return undefined;
  // Each agent service (lib/srv/ssh, lib/srv/db, ...) is its own folder with its own index.ts.
  if (rel[0] === "lib" && rel[1] === "srv") return rel.length > 3 ? `lib/srv/${rel[2]}` : undefined;
  if (rel[0] === "lib") return rel.length > 2 ? `lib/${rel[1]}` : undefined;
  return rel.length > 1 ? rel[0] : undefined;
}

test("imports respect layers and go through each folder's index.ts", () => {
  const problems: string[] = [];
  for (const file of files(SRC)) {
    const from = moduleOf(file);
    if (!from) continue;
    const text = readFileSync(file, "utf8");
    for (const m of text.matchAll(/^(?:import|export)[^;]*?from\s+"(\.[^"]+)"/gm)) {
      const target = resolve(dirname(file), m[1] ?? "");
      const to = moduleOf(target);
      if (!to || to === from) continue;
      const where = `${relative(SRC, file)} → ${relative(SRC, target)}`;
      const rank = (m: string) => RANK[m] ?? (m.startsWith("lib/srv/") ? RANK["lib/srv"] : undefined);
      const rf = rank(from);
      const rt = rank(to);
      if (rf !== undefined && rt !== undefined && rt > rf) problems.push(`upward import: ${where}`);
      const inside = relative(join(SRC, to), target);
      if (to !== "api" && to !== "cli" && inside !== "index.ts") problems.push(`deep import: ${where}`);
    }
  }
  assert.deepEqual(problems, []);
});
