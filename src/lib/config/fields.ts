/** Field-level schemas the config sections are built from. */
import { isIP } from "node:net";
import { z } from "zod";
import { parseDuration } from "./duration.ts";
import { formatHostPort, parseHostPort } from "./hostport.ts";

const TRUE_WORDS = new Set(["yes", "true", "on", "1", "y"]);
const FALSE_WORDS = new Set(["no", "false", "off", "0", "n"]);

/** Teleport-style yes/no: booleans, or the words yes/no/true/false/on/off. */
export const flag = z.preprocess(
  (v) => {
    if (typeof v !== "string") return v;
    const t = v.trim().toLowerCase();
    return TRUE_WORDS.has(t) ? true : FALSE_WORDS.has(t) ? false : v;
  },
  z.boolean({ error: "expected yes or no" }),
);

/** "host:port", normalised; `defaultPort` allows the port to be left out. */
export function hostPort(defaultPort?: number) {
  return z.string({ error: "expected HOST:PORT" }).transform((s, ctx) => {
    try {
      return formatHostPort(parseHostPort(s, defaultPort));
    } catch {
      ctx.addIssue({ code: "custom", message: "expected HOST:PORT" });
      return z.NEVER;
    }
  });
}

export const duration = z.string({ error: "expected a duration like 30s, 20m or 1h30m" }).transform((s, ctx) => {
  try {
    return parseDuration(s);
  } catch {
    ctx.addIssue({
      code: "custom",
      message: "expected a duration like 30s, 20m or 1h30m",
    });
    return z.NEVER;
  }
});

/** A string or a list of them, always a list after parsing. */
export function listOf<T extends z.ZodType>(item: T) {
  return z.preprocess((v) => (typeof v === "string" ? [v] : v), z.array(item));
}

export const resourceName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, "expected a name of letters, digits, '.', '_' or '-'");

export const labelKey = z.string().regex(/^[A-Za-z0-9/._:*-]{1,63}$/, "invalid label name");
/** Label values may be written as numbers or booleans in YAML; they are strings. */
const labelValue = z.preprocess((v) => (typeof v === "number" || typeof v === "boolean" ? String(v) : v), z.string({ error: "expected a string label value" }));
export const labels = z.record(labelKey, labelValue);

export const commandLabel = z.strictObject({
  name: labelKey,
  command: z.array(z.string()).min(1, "expected the command and its arguments as a list"),
  period: duration.prefault("1m").refine((ms) => ms >= 1000, "period must be at least 1s"),
});

export const cidrOrIp = z.string().refine((s) => {
  const [ip, bits, extra] = s.split("/");
  const v = isIP(ip ?? "");
  if (v === 0 || extra !== undefined) return false;
  if (bits === undefined) return true;
  return /^\d{1,3}$/.test(bits) && Number(bits) <= (v === 4 ? 32 : 128);
}, "expected an IP address or CIDR range");

/** Roles a static token may grant (Teleport's "node,db:TOKEN"). */
export const TOKEN_ROLES = ["node", "proxy", "db", "app", "kube", "desktop", "bot"] as const;

export const staticToken = z.string().transform((s, ctx) => {
  const i = s.lastIndexOf(":");
  const roles = (i < 0 ? "" : s.slice(0, i))
    .split(",")
    .map((r) => r.trim().toLowerCase())
    .filter((r) => r !== "");
  const token = i < 0 ? "" : s.slice(i + 1).trim();
  const unknown = roles.filter((r) => !(TOKEN_ROLES as readonly string[]).includes(r));
  if (roles.length === 0 || token === "") {
    ctx.addIssue({
      code: "custom",
      message: 'expected "roles:token", e.g. "node,db:SECRET"',
    });
    return z.NEVER;
  }
  if (unknown.length > 0) {
    ctx.addIssue({
      code: "custom",
      message: `unknown role "${unknown[0]}"; use ${TOKEN_ROLES.join(", ")}`,
    });
    return z.NEVER;
  }
  if (token.length < 8) {
    ctx.addIssue({
      code: "custom",
      message: "static tokens must be at least 8 characters",
    });
    return z.NEVER;
  }
  return { roles, token };
});

export function uniqueNames<T extends { name: string }>(what: string) {
  return (items: T[], ctx: z.RefinementCtx) => {
    const seen = new Set<string>();
    items.forEach((it, i) => {
      if (seen.has(it.name))
        ctx.addIssue({
          code: "custom",
          path: [i, "name"],
          message: `duplicate ${what} "${it.name}"`,
        });
      seen.add(it.name);
    });
  };
}

/** Labels that pick dynamically registered resources. */
export const resourceMatcher = z.strictObject({ labels: labels });
