/**
 * YAML text → validated JumpgateConfig, with every problem reported as
 * `FILE:LINE: path.to.field: message` (or `--flag: message` for flags).
 */
import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument } from "yaml";
import type { z } from "zod";
import { JumpgateError } from "../../api/errors.ts";
import { configSchema, type JumpgateConfig } from "./schema.ts";

export type ConfigPath = readonly (string | number)[];

export interface ConfigIssue {
  /** Where: "jumpgate.yaml:7", "--listen", or the file name alone. */
  where: string;
  /** Dotted field path, "" for the whole file. */
  path: string;
  message: string;
}

/** A bad-parameter error carrying every problem found, one per line of its message. */
export class ConfigError extends JumpgateError {
  readonly issues: ConfigIssue[];
  constructor(issues: ConfigIssue[]) {
    super("bad-parameter", issues.map(formatIssue).join("\n"));
    this.name = "ConfigError";
    this.issues = issues;
  }
}

export function formatIssue(i: ConfigIssue): string {
  return i.path === "" ? `${i.where}: ${i.message}` : `${i.where}: ${i.path}: ${i.message}`;
}

/** "auth_service.listen_addr", "ssh_service.commands[0].period". */
export function formatPath(path: ConfigPath): string {
  let out = "";
  for (const p of path) out += typeof p === "number" ? `[${p}]` : out === "" ? p : `.${p}`;
  return out;
}

/** Parsed YAML before validation, and a way back from a field path to its line. */
export interface ConfigSource {
  filename: string;
  raw: Record<string, unknown>;
  /** 1-based line of the deepest part of `path` present in the file. */
  lineOf(path: ConfigPath): number;
}

const MAX_CONFIG_BYTES = 1 << 20;

function keyMatches(key: unknown, seg: string | number): boolean {
  const k = isScalar(key) ? key.value : key;
  return String(k) === String(seg);
}

/** Reads YAML; syntax errors, duplicate keys and a non-mapping top level are ConfigErrors with lines. */
export function readConfigYaml(text: string, filename = "jumpgate.yaml"): ConfigSource {
  if (text.length > MAX_CONFIG_BYTES) throw new ConfigError([{ where: filename, path: "", message: "file too large" }]);
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((e) => ({
        where: `${filename}:${e.linePos?.[0].line ?? lc.linePos(e.pos[0]).line}`,
        path: "",
        message: (e.message.split("\n")[0] ?? e.message).replace(/ at line \d+, column \d+:?$/, ""),
      })),
    );
  }
  let js: unknown;
  try {
    js = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    throw new ConfigError([{ where: filename, path: "", message }]);
  }
  if (js === null || js === undefined) js = {};
  if (typeof js !== "object" || Array.isArray(js)) {
    throw new ConfigError([{ where: `${filename}:1`, path: "", message: "expected a mapping of sections" }]);
  }

  const lineAt = (offset: number) => lc.linePos(offset).line || 1;
  const lineOf = (path: ConfigPath): number => {
    let node: unknown = doc.contents;
    let line = node !== null && typeof node === "object" && "range" in node ? lineAt((node as Node).range?.[0] ?? 0) : 1;
    for (const seg of path) {
      if (isMap(node)) {
        const pair = node.items.find((p) => keyMatches(p.key, seg));
        if (pair === undefined) break;
        const keyRange = isScalar(pair.key) ? pair.key.range : undefined;
        if (keyRange) line = lineAt(keyRange[0]);
        node = pair.value;
      } else if (isSeq(node) && typeof seg === "number") {
        const item: unknown = node.items[seg];
        if (item === undefined) break;
        if (isScalar(item) || isMap(item) || isSeq(item)) {
          const r = item.range;
          if (r) line = lineAt(r[0]);
        }
        node = item;
      } else {
        break;
      }
    }
    return line;
  };
  return { filename, raw: js as Record<string, unknown>, lineOf };
}

function issueMessage(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case "invalid_type":
      return issue.message.includes("received undefined") ? "required" : issue.message.replace(/^Invalid input: /, "");
    case "invalid_value":
      return issue.values.length === 1 && issue.message !== "Invalid input" ? issue.message : `expected one of: ${issue.values.map(String).join(", ")}`;
    case "invalid_key":
      return issue.issues[0]?.message ?? "invalid key";
    case "invalid_union":
      return "value does not match any allowed form";
    default:
      return issue.message;
  }
}

/**
 * Validates an already-parsed config object. `where(path)` names the place a
 * field came from (a file line or a flag).
 */
export function validateConfig(raw: unknown, where: (path: ConfigPath) => string): JumpgateConfig {
  const r = configSchema.safeParse(raw);
  if (r.success) return r.data;
  const issues: ConfigIssue[] = [];
  for (const issue of r.error.issues) {
    const path = issue.path.filter((p): p is string | number => typeof p !== "symbol");
    if (issue.code === "unrecognized_keys") {
      for (const k of issue.keys) issues.push({ where: where([...path, k]), path: formatPath([...path, k]), message: "unknown field" });
    } else {
      issues.push({ where: where(path), path: formatPath(path), message: issueMessage(issue) });
    }
  }
  throw new ConfigError(issues);
}

/** Parses and validates config text; errors name the file's lines. */
export function parseConfig(text: string, opts: { filename?: string } = {}): JumpgateConfig {
  const src = readConfigYaml(text, opts.filename);
  return validateConfig(src.raw, (p) => `${src.filename}:${src.lineOf(p)}`);
}
