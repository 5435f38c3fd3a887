/**
 * Building blocks every resource schema is made of. Each block carries its own
 * user-facing error message, so a bad document is reported as
 * "spec.allow.logins: expected a list of strings, got a number".
 */
import { z } from "zod";
import { durationProblem, tryParseDuration } from "./duration.ts";
import { compileFullMatchRegex, isRegexPattern } from "./patterns.ts";

/** Describes a value found in a document: "a number", "a list", "a map", "null". */
export function describeValue(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  switch (typeof v) {
    case "string":
      return "a string";
    case "number":
      return "a number";
    case "boolean":
      return "a boolean";
    case "object":
      return "a map";
    default:
      return typeof v;
  }
}

/** Error for a wrong type: "expected a list of strings, got a number", or "required". */
function expected(noun: string) {
  return (iss: { code: string; input?: unknown }) => {
    if (iss.code !== "invalid_type" && iss.code !== "invalid_union") return undefined;
    if (iss.input === undefined) return "required";
    return `expected ${noun}, got ${describeValue(iss.input)}`;
  };
}

const UNKNOWN_SEPARATOR = "\t";

/**
 * A strict object: unknown fields are errors, reported one per field with a
 * suggestion when a known field is spelled nearly the same.
 */
export function strict<T extends z.core.$ZodLooseShape>(shape: T, noun = "a map") {
  const known = Object.keys(shape);
  return z.strictObject(shape, {
    error: (iss) => {
      if (iss.code === "unrecognized_keys") {
        return iss.keys.map((k) => `${k}${UNKNOWN_SEPARATOR}${unknownField(k, known)}`).join("\n");
      }
      return expected(noun)(iss);
    },
  });
}

/** Splits the message of an unrecognized_keys issue into [field, message] pairs. */
export function splitUnknownFields(message: string, keys: readonly string[]): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  for (const line of message.split("\n")) {
    const at = line.indexOf(UNKNOWN_SEPARATOR);
    if (at > 0) pairs.push([line.slice(0, at), line.slice(at + 1)]);
  }
  return pairs.length > 0 ? pairs : keys.map((k) => [k, "unknown field"]);
}

function unknownField(key: string, known: readonly string[]): string {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const k of known) {
    const d = editDistance(key, k);
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  const limit = Math.max(1, Math.floor(key.length / 3));
  return best !== undefined && bestDistance <= limit ? `unknown field (did you mean "${best}"?)` : "unknown field";
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      cur.push(Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost));
    }
    prev = cur;
  }
  return prev[b.length] ?? 0;
}

export const str = z.string({ error: expected("a string") });
export const bool = z.boolean({ error: expected("true or false") });
export const count = z
  .number({ error: expected("a number") })
  .int({ error: "expected a whole number" })
  .nonnegative({
    error: "must not be negative",
  });
export const nonEmptyString = z.string({ error: expected("a string") }).min(1, { error: "must not be empty" });
export const stringList = z.array(str, { error: expected("a list of strings") });

/** A list that must have at least one entry. */
export const nonEmptyStringList = z.array(nonEmptyString, { error: expected("a list of strings") }).min(1, { error: "must list at least one value" });

export function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  const list = values.map((v) => JSON.stringify(v)).join(", ");
  return z.enum(values, {
    error: (iss) => {
      if (iss.input === undefined) return "required";
      const got = typeof iss.input === "string" ? JSON.stringify(iss.input) : describeValue(iss.input);
      return `expected one of ${list}, got ${got}`;
    },
  });
}

/** A Go duration string ("30h", "8h0m0s"); kept as written. */
export const duration = str.refine((s) => tryParseDuration(s) !== undefined, {
  error: (iss) => durationProblem(String(iss.input)),
  abort: true,
});

/** A positive Go duration. */
export const positiveDuration = duration.refine((s) => (tryParseDuration(s) ?? 0) > 0, {
  error: "must be longer than zero",
});

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** An RFC 3339 timestamp ("2026-01-01T00:00:00Z"), kept as a string. */
export const timestamp = str.refine((s) => RFC3339.test(s) && !Number.isNaN(Date.parse(s)), {
  error: (iss) => `invalid time ${JSON.stringify(iss.input)}: use RFC 3339, like "2026-01-31T12:00:00Z"`,
  abort: true,
});

const NAME = /^[^\s/\\\p{Cc}]+$/u;
export const resourceName = str
  .min(1, { error: "must not be empty" })
  .max(255, { error: "must be at most 255 characters" })
  .regex(NAME, { error: "must not contain whitespace, slashes or control characters" });

const LABEL_KEY = /^[a-zA-Z0-9/._:*-]+$/;
const labelKey = str
  .max(256, { error: "must be at most 256 characters" })
  .regex(LABEL_KEY, { error: "label keys may contain only letters, digits and / . _ : * -" })
  .refine((k) => k !== "__proto__", { error: "reserved label key" });

/** Resource labels: one string per key. */
export const labels = z.record(labelKey, str, { error: expected("a map of strings") });

const TEMPLATE_KEY = /\{\{.*\}\}/;
const selectorKey = z
  .string()
  .max(256, { error: "must be at most 256 characters" })
  .refine((k) => k !== "__proto__", { error: "reserved label key" })
  .refine((k) => LABEL_KEY.test(k) || TEMPLATE_KEY.test(k), {
    error: "label keys may contain only letters, digits and / . _ : * - or a {{trait}} template",
  });

const selectorValues = z.union([str, z.array(str)], { error: expected("a string or a list of strings") });

/**
 * A label selector in a role: per key, one value or a list of values, each "*",
 * a glob, a "^regex$" or a trait template.
 */
export const labelSelector = z.record(selectorKey, selectorValues, { error: expected("a map of label selectors") }).superRefine((selector, ctx) => {
  for (const [key, raw] of Object.entries(selector)) {
    const values = typeof raw === "string" ? [raw] : raw;
    if (key === "*" && !(values.length === 1 && values[0] === "*")) {
      ctx.addIssue({ code: "custom", path: [key], message: `the "*" key only accepts the value "*"` });
    }
    for (const [i, v] of values.entries()) {
      if (TEMPLATE_KEY.test(v) || !isRegexPattern(v)) continue;
      const compiled = compileFullMatchRegex(v);
      if (!compiled.ok) {
        ctx.addIssue({
          code: "custom",
          path: typeof raw === "string" ? [key] : [key, i],
          message: `invalid regular expression ${JSON.stringify(v)}: ${compiled.problem}`,
        });
      }
    }
  }
});

export const metadata = strict(
  {
    name: resourceName,
    description: str.optional(),
    labels: labels.optional(),
    expires: timestamp.optional(),
    /** Set by the backend on reads (a number); Teleport writes a UUID string. */
    revision: z.union([count, str], { error: expected("a number or a string") }).optional(),
    /** Teleport writes these two; only the default namespace exists. */
    namespace: z.literal("default", { error: 'only the "default" namespace exists' }).optional(),
    id: z.number({ error: expected("a number") }).optional(),
  },
  "a map with a name",
);

export type Metadata = z.output<typeof metadata>;
