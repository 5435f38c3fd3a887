/**
 * Go-style durations ("30h", "8h0m0s", "90m", "1.5s"), as Teleport writes them in
 * role options. Values are milliseconds.
 */
import { badParameter } from "../errors.ts";

const UNIT_MS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3, // U+00B5 micro sign
  μs: 1e-3, // U+03BC Greek mu
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

const PART = /^(\d*(?:\.\d*)?)([a-zµμ]+)/;

/** Parses a Go duration; returns undefined when the text is not one. */
export function tryParseDuration(text: string): number | undefined {
  let rest = text;
  let sign = 1;
  if (rest.startsWith("-") || rest.startsWith("+")) {
    if (rest.startsWith("-")) sign = -1;
    rest = rest.slice(1);
  }
  if (rest === "0") return 0;
  if (rest === "") return undefined;
  let total = 0;
  while (rest.length > 0) {
    const m = PART.exec(rest);
    if (m === null) return undefined;
    const [whole, num = "", unit = ""] = m;
    if (num === "" || num === ".") return undefined;
    const factor = UNIT_MS[unit];
    if (factor === undefined) return undefined;
    total += Number(num) * factor;
    rest = rest.slice(whole.length);
  }
  const ms = Math.round(total);
  if (!Number.isSafeInteger(ms)) return undefined;
  return sign * ms;
}

/** Parses a Go duration ("8h30m") into milliseconds; throws bad-parameter on anything else. */
export function parseDuration(text: string): number {
  const ms = tryParseDuration(text);
  if (ms === undefined) throw badParameter(durationProblem(text));
  return ms;
}

/** The message shown for a string that is not a duration. */
export function durationProblem(text: string): string {
  return `invalid duration ${JSON.stringify(text)}: use a number and a unit (h, m, s, ms), like "8h", "90m" or "1h30m"`;
}

/** Formats milliseconds as Go does: "8h0m0s", "1m30s", "1.5s", "500ms", "0s". */
export function formatDuration(ms: number): string {
  if (ms === 0) return "0s";
  const sign = ms < 0 ? "-" : "";
  const abs = Math.abs(ms);
  if (abs < 1000) return `${sign}${trimNumber(abs)}ms`;
  const h = Math.floor(abs / 3_600_000);
  const m = Math.floor((abs % 3_600_000) / 60_000);
  const s = trimNumber((abs % 60_000) / 1000);
  if (h > 0) return `${sign}${h}h${m}m${s}s`;
  if (m > 0) return `${sign}${m}m${s}s`;
  return `${sign}${s}s`;
}

function trimNumber(n: number): string {
  return String(Number(n.toFixed(6)));
}
