/**
 * Trait templates in role values: `{{internal.logins}}`, `{{external.groups}}`,
 * `{{external["saml-groups"]}}`, `{{email.local(external.email)}}`,
 * `{{regexp.replace(external.groups, "^admin-(.*)$", "$1")}}`, `{{strings.lower(...)}}`,
 * with an optional literal prefix and suffix around the braces. A missing trait
 * expands to nothing; an invalid template expands to nothing and says why.
 */
import { regexSafetyProblem } from "../../api/resources/index.ts";
import type { Traits } from "./decision.ts";

/** The `internal.*` traits, read from the user's spec.traits. */
export const INTERNAL_TRAITS: readonly string[] = [
  "logins",
  "windows_logins",
  "db_users",
  "db_names",
  "db_roles",
  "kubernetes_users",
  "kubernetes_groups",
  "aws_role_arns",
  "azure_identities",
  "gcp_service_accounts",
];

export type TemplateExpr =
  | { readonly type: "trait"; readonly namespace: "internal" | "external"; readonly name: string }
  | { readonly type: "email.local" | "strings.upper" | "strings.lower"; readonly arg: TemplateExpr }
  | { readonly type: "regexp.replace"; readonly arg: TemplateExpr; readonly re: RegExp; readonly replacement: string };

export type ParsedValue =
  | { readonly kind: "literal"; readonly value: string }
  | { readonly kind: "template"; readonly prefix: string; readonly suffix: string; readonly expr: TemplateExpr }
  | { readonly kind: "invalid"; readonly problem: string };

const MAX_TEMPLATE_LENGTH = 1024;
const cache = new Map<string, ParsedValue>();

export function isTemplate(value: string): boolean {
  return value.includes("{{") || value.includes("}}");
}

export function parseTemplate(value: string): ParsedValue {
  const hit = cache.get(value);
  if (hit !== undefined) return hit;
  const parsed = parseUncached(value);
  if (cache.size > 2000) cache.clear();
  cache.set(value, parsed);
  return parsed;
}

function parseUncached(value: string): ParsedValue {
  if (!isTemplate(value)) return { kind: "literal", value };
  const invalid = (why: string): ParsedValue => ({ kind: "invalid", problem: `invalid template ${JSON.stringify(value)}: ${why}` });
  if (value.length > MAX_TEMPLATE_LENGTH) return invalid(`longer than ${MAX_TEMPLATE_LENGTH} characters`);
  const open = value.indexOf("{{");
  const close = value.indexOf("}}", open + 2);
  if (open < 0 || close < 0) return invalid("unbalanced {{ }}");
  const prefix = value.slice(0, open);
  const suffix = value.slice(close + 2);
  if (isTemplate(prefix) || isTemplate(suffix)) return invalid("only one {{ }} per value");
  try {
    const p = new ExprParser(value.slice(open + 2, close));
    const expr = p.expr();
    p.end();
    return { kind: "template", prefix, suffix, expr };
  } catch (e) {
    return invalid(e instanceof TemplateSyntaxError ? e.message : String(e));
  }
}

class TemplateSyntaxError extends Error {}

type Token = { t: "ident"; v: string } | { t: "string"; v: string } | { t: "punct"; v: string };

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i] ?? "";
    if (/\s/.test(c)) {
      i++;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i));
      const v = m?.[0] ?? c;
      out.push({ t: "ident", v });
      i += v.length;
    } else if (c === '"') {
      let v = "";
      i++;
      while (i < src.length && src[i] !== '"') {
        const d = src[i] ?? "";
        if (d === "\\" && (src[i + 1] === '"' || src[i + 1] === "\\")) {
          v += src[i + 1];
          i += 2;
        } else {
          v += d;
          i++;
        }
      }
      if (i >= src.length) throw new TemplateSyntaxError("unterminated string");
      i++;
      out.push({ t: "string", v });
    } else if (".()[],".includes(c)) {
      out.push({ t: "punct", v: c });
      i++;
    } else {
      throw new TemplateSyntaxError(`unexpected ${JSON.stringify(c)}`);
    }
  }
  return out;
}

class ExprParser {
  private readonly tokens: Token[];
  private pos = 0;
  private depth = 0;
  constructor(src: string) {
    this.tokens = tokenize(src);
  }
  private peek(): Token | undefined {
    return this.tokens[this.pos];
  }
  private take(t: Token["t"], v?: string): string {
    const tok = this.tokens[this.pos];
    if (tok === undefined || tok.t !== t || (v !== undefined && tok.v !== v)) {
      const want = v !== undefined ? JSON.stringify(v) : t === "ident" ? "a name" : "a string";
      throw new TemplateSyntaxError(`expected ${want}${tok === undefined ? " at the end" : `, got ${JSON.stringify(tok.v)}`}`);
    }
    this.pos++;
    return tok.v;
  }
  end(): void {
    const tok = this.peek();
    if (tok !== undefined) throw new TemplateSyntaxError(`unexpected ${JSON.stringify(tok.v)}`);
  }
  expr(): TemplateExpr {
    if (++this.depth > 8) throw new TemplateSyntaxError("nested too deeply");
    const first = this.take("ident");
    if (this.peek()?.v === "[") {
      this.take("punct", "[");
      const name = this.take("string");
      this.take("punct", "]");
      this.depth--;
      return trait(first, name);
    }
    this.take("punct", ".");
    const second = this.take("ident");
    if (this.peek()?.v !== "(") {
      this.depth--;
      return trait(first, second);
    }
    const fn = `${first}.${second}`;
    this.take("punct", "(");
    const arg = this.expr();
    const rest: string[] = [];
    while (this.peek()?.v === ",") {
      this.take("punct", ",");
      rest.push(this.take("string"));
    }
    this.take("punct", ")");
    this.depth--;
    return call(fn, arg, rest);
  }
}

function trait(namespace: string, name: string): TemplateExpr {
  if (namespace === "external") return { type: "trait", namespace, name };
  if (namespace === "internal") {
    if (!INTERNAL_TRAITS.includes(name)) {
      throw new TemplateSyntaxError(`internal.${name} is not an internal trait (known: ${INTERNAL_TRAITS.join(", ")})`);
    }
    return { type: "trait", namespace, name };
  }
  throw new TemplateSyntaxError(`unknown namespace ${JSON.stringify(namespace)}: use internal or external`);
}

function call(fn: string, arg: TemplateExpr, rest: string[]): TemplateExpr {
  const arity = (n: number) => {
    if (rest.length !== n) throw new TemplateSyntaxError(`${fn} takes ${n + 1} argument${n === 0 ? "" : "s"}`);
  };
  switch (fn) {
    case "email.local":
    case "strings.upper":
    case "strings.lower":
      arity(0);
      return { type: fn, arg };
    case "regexp.replace": {
      arity(2);
      const [pattern = "", replacement = ""] = rest;
      const unsafe = pattern.length > 256 ? "longer than 256 characters" : regexSafetyProblem(pattern);
      if (unsafe !== undefined) throw new TemplateSyntaxError(`regexp.replace: ${unsafe}`);
      let re: RegExp;
      try {
        re = new RegExp(pattern, "g");
      } catch (e) {
        throw new TemplateSyntaxError(`regexp.replace: ${e instanceof Error ? e.message : String(e)}`);
      }
      return { type: fn, arg, re, replacement: goReplacement(replacement) };
    }
    default:
      throw new TemplateSyntaxError(`unknown function ${fn} (known: email.local, regexp.replace, strings.upper, strings.lower)`);
  }
}

/** Go's `$1`, `${1}`, `$name`, `${name}` and `$$` in JavaScript's replacement syntax. */
function goReplacement(s: string): string {
  return s.replace(/\$(\$|\{([A-Za-z0-9_]+)\}|([0-9]+)|([A-Za-z_][A-Za-z0-9_]*))?/g, (_m, whole, braced, digits, name) => {
    if (whole === "$") return "$$";
    const ref = (braced ?? digits ?? name) as string | undefined;
    if (ref === undefined) return "$$";
    return /^[0-9]+$/.test(ref) ? `$${ref}` : `$<${ref}>`;
  });
}

export interface Expansion {
  readonly values: string[];
  readonly problems: string[];
}

export function evaluate(expr: TemplateExpr, traits: Traits): Expansion {
  if (expr.type === "trait") {
    return { values: Object.hasOwn(traits, expr.name) ? [...(traits[expr.name] ?? [])] : [], problems: [] };
  }
  const inner = evaluate(expr.arg, traits);
  const problems = [...inner.problems];
  const values: string[] = [];
  for (const v of inner.values) {
    switch (expr.type) {
      case "strings.upper":
        values.push(v.toUpperCase());
        break;
      case "strings.lower":
        values.push(v.toLowerCase());
        break;
      case "email.local": {
        const local = emailLocal(v);
        if (local === undefined) problems.push(`email.local: ${JSON.stringify(v)} is not an email address`);
        else values.push(local);
        break;
      }
      case "regexp.replace":
        expr.re.lastIndex = 0;
        if (expr.re.test(v)) {
          expr.re.lastIndex = 0;
          values.push(v.replace(expr.re, expr.replacement));
        }
        break;
    }
  }
  return { values, problems };
}

function emailLocal(v: string): string | undefined {
  const angle = /<([^<>]+)>\s*$/.exec(v);
  const addr = (angle?.[1] ?? v).trim();
  const at = addr.lastIndexOf("@");
  if (at <= 0 || at === addr.length - 1 || /\s/.test(addr)) return undefined;
  return addr.slice(0, at);
}

/** Expands one role value for a user: literal → itself; template → zero or more values. */
export function expandTemplate(value: string, traits: Traits): { values: string[]; problem?: string } {
  const parsed = parseTemplate(value);
  if (parsed.kind === "literal") return { values: [parsed.value] };
  if (parsed.kind === "invalid") return { values: [], problem: parsed.problem };
  const { values, problems } = evaluate(parsed.expr, traits);
  const out = values.map((v) => parsed.prefix + v + parsed.suffix).filter((v) => v !== "");
  return problems.length > 0 ? { values: out, problem: `${JSON.stringify(value)}: ${problems.join("; ")}` } : { values: out };
}

/** Expands a list, dropping what cannot be expanded, deduplicated in order. */
export function expandValues(values: readonly string[], traits: Traits): Expansion {
  const out = new Set<string>();
  const problems: string[] = [];
  for (const v of values) {
    const r = expandTemplate(v, traits);
    for (const x of r.values) out.add(x);
    if (r.problem !== undefined) problems.push(r.problem);
  }
  return { values: [...out], problems };
}
