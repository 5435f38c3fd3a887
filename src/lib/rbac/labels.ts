/**
 * Label matching, as Teleport does it: a selector matches when every key is
 * present on the resource and its value matches one of the key's patterns; an
 * empty selector matches nothing; `'*': '*'` matches everything, even no labels.
 * Patterns: "*" (any value), globs where only "*" is special, "^regex$" (full match).
 */
import { compileFullMatchRegex, isRegexPattern, MAX_REGEX_INPUT_LENGTH } from "../../api/resources/index.ts";
import type { LabelSelectorInput, Labels } from "./decision.ts";

export type Pattern =
  | { readonly kind: "any" }
  | { readonly kind: "exact"; readonly value: string }
  /** Literal pieces with a "*" between each two. */
  | { readonly kind: "glob"; readonly segments: readonly string[] }
  | { readonly kind: "regex"; readonly re: RegExp; readonly source: string }
  | { readonly kind: "invalid"; readonly source: string; readonly problem: string };

/** "error": the pattern is invalid or the value too long to test safely. Callers fail closed. */
export type Outcome = "match" | "no-match" | "error";

export function compilePattern(value: string): Pattern {
  if (value === "*") return { kind: "any" };
  if (isRegexPattern(value)) return regexPattern(value);
  if (value.includes("*")) return { kind: "glob", segments: value.split("*") };
  return { kind: "exact", value };
}

function regexPattern(source: string): Pattern {
  const c = compileFullMatchRegex(source);
  return c.ok ? { kind: "regex", re: c.re, source } : { kind: "invalid", source, problem: c.problem };
}

const REGEX_SPECIALS = /[\\^$.*+?()[\]{}|/-]/g;

/**
 * A pattern written around a trait template (`prefix{{...}}suffix`): the role
 * author's prefix and suffix keep their pattern meaning, the trait value is
 * always taken literally, so a user cannot widen access through his own traits.
 */
export function compileTemplatedPattern(prefix: string, injected: string, suffix: string): Pattern {
  const whole = prefix + injected + suffix;
  if (prefix.startsWith("^") && suffix.endsWith("$") && whole.length >= 2) {
    const escaped = injected.replace(REGEX_SPECIALS, "\\$&");
    const p = regexPattern(prefix + escaped + suffix);
    return p.kind === "regex" ? { ...p, source: whole } : p;
  }
  const before = prefix.split("*");
  const after = suffix.split("*");
  const segments = [...before.slice(0, -1), `${before[before.length - 1] ?? ""}${injected}${after[0] ?? ""}`, ...after.slice(1)];
  return segments.length === 1 ? { kind: "exact", value: whole } : { kind: "glob", segments };
}

export function matchPattern(p: Pattern, value: string): Outcome {
  switch (p.kind) {
    case "any":
      return "match";
    case "exact":
      return p.value === value ? "match" : "no-match";
    case "glob":
      return globMatch(p.segments, value) ? "match" : "no-match";
    case "regex":
      if (value.length > MAX_REGEX_INPUT_LENGTH) return "error";
      return p.re.test(value) ? "match" : "no-match";
    case "invalid":
      return "error";
  }
}

/** Star-only glob match in linear time: greedy leftmost placement of each middle piece is exact. */
function globMatch(segments: readonly string[], value: string): boolean {
  const first = segments[0] ?? "";
  const last = segments[segments.length - 1] ?? "";
  if (segments.length < 2) return first === value;
  if (value.length < first.length + last.length || !value.startsWith(first) || !value.endsWith(last)) return false;
  let pos = first.length;
  const end = value.length - last.length;
  for (let i = 1; i < segments.length - 1; i++) {
    const seg = segments[i] ?? "";
    const at = value.indexOf(seg, pos);
    if (at < 0 || at + seg.length > end) return false;
    pos = at + seg.length;
  }
  return true;
}

/** Does `value` match one pattern as written in a role ("*", "prod-*", "^db-[0-9]+$", "dev")? */
export function matchValue(pattern: string, value: string): boolean {
  return matchPattern(compilePattern(pattern), value) === "match";
}

export interface SelectorEntry {
  /** Undefined when the key came from a template that expanded to nothing: never matches. */
  readonly key: string | undefined;
  readonly patterns: readonly Pattern[];
}

export interface CompiledSelector {
  /** `'*': '*'`. */
  readonly matchAll: boolean;
  readonly entries: readonly SelectorEntry[];
}

export const EMPTY_SELECTOR: CompiledSelector = { matchAll: false, entries: [] };

/** Compiles a selector without templates (values are taken as patterns). */
export function compileSelector(selector: LabelSelectorInput): CompiledSelector {
  const entries: SelectorEntry[] = [];
  let matchAll = false;
  for (const [key, raw] of Object.entries(selector)) {
    const values: readonly string[] = typeof raw === "string" ? [raw] : raw;
    if (key === "*" && values.length === 1 && values[0] === "*") matchAll = true;
    entries.push({ key, patterns: values.map(compilePattern) });
  }
  return { matchAll, entries };
}

export interface SelectorResult {
  readonly outcome: Outcome;
  /** Why it did not match, or what could not be evaluated. */
  readonly reason: string;
}

export function evaluateSelector(selector: CompiledSelector, labels: Labels): SelectorResult {
  if (selector.matchAll) return { outcome: "match", reason: "matched" };
  if (selector.entries.length === 0) return { outcome: "no-match", reason: "no labels selected" };
  for (const { key, patterns } of selector.entries) {
    if (key === undefined) return { outcome: "no-match", reason: "a templated key expanded to nothing" };
    if (!Object.hasOwn(labels, key)) return { outcome: "no-match", reason: `label ${JSON.stringify(key)} missing` };
    const value = labels[key] ?? "";
    let error: Pattern | undefined;
    let matched = false;
    for (const p of patterns) {
      const o = matchPattern(p, value);
      if (o === "match") {
        matched = true;
        break;
      }
      if (o === "error") error = p;
    }
    if (matched) continue;
    if (error !== undefined) {
      const why =
        error.kind === "invalid"
          ? `invalid pattern ${JSON.stringify(error.source)}: ${error.problem}`
          : `value of ${JSON.stringify(key)} too long for a regular expression`;
      return { outcome: "error", reason: why };
    }
    return { outcome: "no-match", reason: `label ${key}=${JSON.stringify(value)} not matched` };
  }
  return { outcome: "match", reason: "matched" };
}

/**
 * Public helper: does the selector match these labels? Invalid patterns never
 * match (and never throw).
 */
export function matchLabels(selector: LabelSelectorInput, labels: Labels): boolean {
  return evaluateSelector(compileSelector(selector), labels).outcome === "match";
}

/** `env=prod, team=db`, for messages. */
export function describeLabels(labels: Labels): string {
  const entries = Object.entries(labels);
  if (entries.length === 0) return "no labels";
  const shown = entries.slice(0, 6).map(([k, v]) => `${k}=${v.length > 40 ? `${v.slice(0, 40)}…` : v}`);
  return entries.length > 6 ? `${shown.join(", ")}, …` : shown.join(", ");
}
