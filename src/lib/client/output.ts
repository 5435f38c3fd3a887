import { stringify } from "yaml";
import { badParameter } from "../../api/errors.ts";

export type Format = "text" | "json" | "yaml";

export function parseFormat(v: string | undefined, allowed: Format[] = ["text", "json", "yaml"]): Format {
  const f = (v ?? "text") as Format;
  if (!allowed.includes(f)) throw badParameter(`unknown format "${v}"; use one of ${allowed.join(", ")}`);
  return f;
}

/** A plain text table, columns padded to their widest cell. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join(" ")
      .trimEnd();
  return [line(headers), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

export function render(data: unknown, format: Format, text: () => string): string {
  if (format === "json") return JSON.stringify(data, null, 2);
  if (format === "yaml") return stringify(data).trimEnd();
  return text();
}

export function formatDate(d: Date | string | undefined): string {
  if (!d) return "never";
  const date = typeof d === "string" ? new Date(d) : d;
  return Number.isNaN(date.getTime()) ? String(d) : date.toISOString().replace(/\.\d{3}Z$/, "Z");
}
