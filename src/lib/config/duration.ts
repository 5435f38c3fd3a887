import { badParameter } from "../../api/errors.ts";

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Go-style durations as written in teleport.yaml: "20m", "1h30m", "90s", "500ms", "2d". Returns milliseconds. */
export function parseDuration(text: string): number {
  const s = text.trim();
  if (s === "0") return 0;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;
  let total = 0;
  let matched = 0;
  for (let m = re.exec(s); m !== null; m = re.exec(s)) {
    const unit = UNIT_MS[m[2] ?? ""];
    if (unit === undefined) break;
    total += Number(m[1]) * unit;
    matched = re.lastIndex;
  }
  if (s === "" || matched !== s.length) throw badParameter(`"${text}": expected a duration like 30s, 20m or 1h30m`);
  return Math.round(total);
}

/** Milliseconds back to the shortest Go-style text ("1h30m"). */
export function formatDuration(ms: number): string {
  if (ms === 0) return "0s";
  let rest = ms;
  let out = "";
  for (const [unit, size] of [
    ["h", 3_600_000],
    ["m", 60_000],
    ["s", 1000],
    ["ms", 1],
  ] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) out += `${n}${unit}`;
    rest -= n * size;
  }
  return out;
}
