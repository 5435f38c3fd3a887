/**
 * Turns zod issues into one line each for people:
 * `role "dev" (doc 2 of roles.yaml): spec.allow.logins: expected a list of strings, got a number`.
 */
import type { z } from "zod";
import { describeValue, splitUnknownFields } from "./schema.ts";

export type Path = ReadonlyArray<PropertyKey>;

/** Where a document came from; `lineOf` maps a field path to a 1-based line when known. */
export interface DocumentLocation {
  source?: string;
  /** 1-based position of the document in its stream. */
  index?: number;
  lineOf?: (path: Path) => number | undefined;
}

/** The fallback message for issues whose schema did not set its own. */
export const defaultErrorMap: z.core.$ZodErrorMap = (iss) => {
  switch (iss.code) {
    case "invalid_type":
      if (iss.input === undefined) return "required";
      return `expected ${noun(iss.expected)}, got ${describeValue(iss.input)}`;
    case "invalid_value":
      return `expected ${iss.values.map((v) => JSON.stringify(v)).join(" or ")}, got ${JSON.stringify(iss.input)}`;
    case "unrecognized_keys":
      return iss.keys.map((k) => `${k}\tunknown field`).join("\n");
    case "too_small":
      return iss.minimum === 1 ? "must not be empty" : `must be at least ${String(iss.minimum)}`;
    case "too_big":
      return `must be at most ${String(iss.maximum)}`;
    case "invalid_format":
      return `invalid ${iss.format}`;
    case "invalid_union":
      return `expected one of several shapes, got ${describeValue(iss.input)}`;
    default:
      return "invalid value";
  }
};

function noun(expected: string): string {
  switch (expected) {
    case "array":
      return "a list";
    case "object":
      return "a map";
    case "string":
      return "a string";
    case "number":
      return "a number";
    case "boolean":
      return "true or false";
    default:
      return expected;
  }
}

/** `spec.allow.logins[0]`, `spec.allow.node_labels["*"]`. */
export function formatPath(path: Path): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else if (typeof seg === "string" && /^[A-Za-z_][A-Za-z0-9_]*$/.test(seg)) out += out === "" ? seg : `.${seg}`;
    else out += `[${JSON.stringify(String(seg))}]`;
  }
  return out;
}

/** `role "dev"`, plus where it came from: ` (doc 2 of roles.yaml)`. */
export function describeDocument(kind: string | undefined, name: string | undefined, where: DocumentLocation | undefined, withSource = true): string {
  const what =
    kind !== undefined && name !== undefined
      ? `${kind} ${JSON.stringify(name)}`
      : kind !== undefined
        ? kind
        : name !== undefined
          ? `resource ${JSON.stringify(name)}`
          : "";
  const place: string[] = [];
  if (where?.index !== undefined) place.push(`doc ${where.index}`);
  if (withSource && where?.source !== undefined) place.push(where.index !== undefined ? `of ${where.source}` : `in ${where.source}`);
  const at = place.join(" ");
  if (what === "") return at === "" ? "resource" : at;
  return at === "" ? what : `${what} (${at})`;
}

export interface Problem {
  path: Path;
  message: string;
}

/** Flattens zod issues into problems, one per unknown field. */
export function problemsOf(issues: readonly z.core.$ZodIssue[]): Problem[] {
  const out: Problem[] = [];
  for (const iss of issues) {
    if (iss.code === "unrecognized_keys") {
      for (const [key, message] of splitUnknownFields(iss.message, iss.keys)) {
        out.push({ path: [...iss.path, key], message });
      }
    } else {
      out.push({ path: iss.path, message: iss.message });
    }
  }
  return out;
}

const MAX_LINES = 20;

/** One line per problem, prefixed with `source:line: ` when the line is known. */
export function formatProblems(problems: readonly Problem[], kind: string | undefined, name: string | undefined, where: DocumentLocation | undefined): string {
  const lines = problems.slice(0, MAX_LINES).map((p) => {
    const line = where?.lineOf?.(p.path);
    const located = line !== undefined && where?.source !== undefined;
    const prefix = located ? `${where?.source}:${line}: ` : "";
    const field = p.path.length > 0 ? `${formatPath(p.path)}: ` : "";
    return `${prefix}${describeDocument(kind, name, where, !located)}: ${field}${p.message}`;
  });
  if (problems.length > MAX_LINES) lines.push(`... and ${problems.length - MAX_LINES} more problems`);
  return lines.join("\n");
}
