/**
 * The small, safe subset of Teleport's `where` language that rules may use:
 * `contains(list, value)`, `equals(a, b)`, `&&`, `||`, `!`, parentheses,
 * string literals, `true`/`false`, and field paths rooted at `user`, `resource`
 * or `session` (`user.spec.traits["groups"]`, `resource.metadata.labels["env"]`).
 * Parsing never throws out of this module; callers decide how to fail closed.
 */

export type WhereValue = { readonly t: "str"; readonly v: string } | { readonly t: "path"; readonly root: WhereRoot; readonly keys: readonly string[] };

export type WhereExpr =
  | { readonly t: "bool"; readonly v: boolean }
  | { readonly t: "and" | "or"; readonly l: WhereExpr; readonly r: WhereExpr }
  | { readonly t: "not"; readonly e: WhereExpr }
  | { readonly t: "contains" | "equals"; readonly a: WhereValue; readonly b: WhereValue };

export const WHERE_ROOTS = ["user", "resource", "session"] as const;
export type WhereRoot = (typeof WHERE_ROOTS)[number];

/** What a `where` clause is evaluated against; each root is a JSON-like object. */
export type RuleContext = { readonly [K in WhereRoot]?: unknown };

export type ParsedWhere = { readonly ok: true; readonly expr: WhereExpr } | { readonly ok: false; readonly problem: string };

const MAX_LENGTH = 2048;
const MAX_DEPTH = 32;
const cache = new Map<string, ParsedWhere>();

export function parseWhere(src: string): ParsedWhere {
  const hit = cache.get(src);
  if (hit !== undefined) return hit;
  let result: ParsedWhere;
  try {
    if (src.length > MAX_LENGTH) throw new WhereError(`longer than ${MAX_LENGTH} characters`);
    const p = new Parser(src);
    result = { ok: true, expr: p.parse() };
  } catch (e) {
    result = { ok: false, problem: `invalid where ${JSON.stringify(src)}: ${e instanceof WhereError ? e.message : String(e)}` };
  }
  if (cache.size > 2000) cache.clear();
  cache.set(src, result);
  return result;
}

class WhereError extends Error {}

type Tok = { k: "id" | "str" | "op"; v: string; at: number };

function lex(src: string): Tok[] {
  const toks: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i] ?? "";
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const two = src.slice(i, i + 2);
    if (two === "&&" || two === "||") {
      toks.push({ k: "op", v: two, at: i });
      i += 2;
    } else if ("!(),.[]".includes(c)) {
      toks.push({ k: "op", v: c, at: i });
      i++;
    } else if (c === '"') {
      let v = "";
      let j = i + 1;
      while (j < src.length && src[j] !== '"') {
        if (src[j] === "\\" && j + 1 < src.length) j++;
        v += src[j];
        j++;
      }
      if (j >= src.length) throw new WhereError("unterminated string");
      toks.push({ k: "str", v, at: i });
      i = j + 1;
    } else if (/[A-Za-z_]/.test(c)) {
      const v = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i))?.[0] ?? c;
      toks.push({ k: "id", v, at: i });
      i += v.length;
    } else {
      throw new WhereError(`unexpected ${JSON.stringify(c)} at ${i + 1}`);
    }
  }
  return toks;
}

class Parser {
  private readonly toks: Tok[];
  private pos = 0;
  private depth = 0;
  constructor(src: string) {
    this.toks = lex(src);
  }
  parse(): WhereExpr {
    const e = this.or();
    const t = this.toks[this.pos];
    if (t !== undefined) throw new WhereError(`unexpected ${JSON.stringify(t.v)} at ${t.at + 1}`);
    return e;
  }
  private peek(v: string): boolean {
    const t = this.toks[this.pos];
    return t !== undefined && t.k === "op" && t.v === v;
  }
  private expect(v: string): void {
    if (!this.peek(v)) {
      const t = this.toks[this.pos];
      throw new WhereError(`expected ${JSON.stringify(v)}${t === undefined ? " at the end" : ` at ${t.at + 1}`}`);
    }
    this.pos++;
  }
  private enter(): void {
    if (++this.depth > MAX_DEPTH) throw new WhereError("nested too deeply");
  }
  private or(): WhereExpr {
    let l = this.and();
    while (this.peek("||")) {
      this.pos++;
      l = { t: "or", l, r: this.and() };
    }
    return l;
  }
  private and(): WhereExpr {
    let l = this.unary();
    while (this.peek("&&")) {
      this.pos++;
      l = { t: "and", l, r: this.unary() };
    }
    return l;
  }
  private unary(): WhereExpr {
    this.enter();
    let e: WhereExpr;
    if (this.peek("!")) {
      this.pos++;
      e = { t: "not", e: this.unary() };
    } else if (this.peek("(")) {
      this.pos++;
      e = this.or();
      this.expect(")");
    } else {
      e = this.atom();
    }
    this.depth--;
    return e;
  }
  private atom(): WhereExpr {
    const t = this.toks[this.pos];
    if (t === undefined) throw new WhereError("unexpected end");
    if (t.k === "id" && (t.v === "true" || t.v === "false")) {
      this.pos++;
      return { t: "bool", v: t.v === "true" };
    }
    if (t.k === "id" && (t.v === "contains" || t.v === "equals")) {
      this.pos++;
      this.expect("(");
      const a = this.value();
      this.expect(",");
      const b = this.value();
      this.expect(")");
      return { t: t.v, a, b };
    }
    throw new WhereError(`expected contains(...), equals(...), true or false at ${t.at + 1}, got ${JSON.stringify(t.v)}`);
  }
  private value(): WhereValue {
    const t = this.toks[this.pos];
    if (t === undefined) throw new WhereError("unexpected end");
    this.pos++;
    if (t.k === "str") return { t: "str", v: t.v };
    if (t.k !== "id" || !(WHERE_ROOTS as readonly string[]).includes(t.v)) {
      throw new WhereError(`expected a string or a field of ${WHERE_ROOTS.join(", ")} at ${t.at + 1}, got ${JSON.stringify(t.v)}`);
    }
    const keys: string[] = [];
    for (;;) {
      if (this.peek(".")) {
        this.pos++;
        const id = this.toks[this.pos];
        if (id === undefined || id.k !== "id") throw new WhereError("expected a field name after '.'");
        keys.push(id.v);
        this.pos++;
      } else if (this.peek("[")) {
        this.pos++;
        const s = this.toks[this.pos];
        if (s === undefined || s.k !== "str") throw new WhereError("expected a quoted key inside [ ]");
        keys.push(s.v);
        this.pos++;
        this.expect("]");
      } else {
        break;
      }
    }
    return { t: "path", root: t.v as WhereRoot, keys };
  }
}

/** Raised when the context lacks what the expression needs; callers fail closed. */
export class WhereEvalError extends Error {}

function resolve(v: WhereValue, ctx: RuleContext): unknown {
  if (v.t === "str") return v.v;
  let cur: unknown = ctx[v.root];
  if (cur === undefined) throw new WhereEvalError(`no ${v.root} to evaluate against`);
  for (const k of v.keys) {
    if (typeof cur !== "object" || cur === null || Array.isArray(cur) || !Object.hasOwn(cur, k)) return undefined;
    cur = (cur as Record<string, unknown>)[k];
  }
  return cur;
}

export function evaluateWhere(e: WhereExpr, ctx: RuleContext): boolean {
  switch (e.t) {
    case "bool":
      return e.v;
    case "and":
      return evaluateWhere(e.l, ctx) && evaluateWhere(e.r, ctx);
    case "or":
      return evaluateWhere(e.l, ctx) || evaluateWhere(e.r, ctx);
    case "not":
      return !evaluateWhere(e.e, ctx);
    case "contains": {
      const list = resolve(e.a, ctx);
      const item = resolve(e.b, ctx);
      return Array.isArray(list) && typeof item === "string" && list.includes(item);
    }
    case "equals": {
      const a = resolve(e.a, ctx);
      const b = resolve(e.b, ctx);
      if (typeof a === "string" || typeof b === "string") return a === b;
      return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => x === b[i]);
    }
  }
}

/** true / false, or the reason it could not be decided (unparsable, or context missing). */
export function checkWhere(src: string, ctx: RuleContext): boolean | { error: string } {
  const parsed = parseWhere(src);
  if (!parsed.ok) return { error: parsed.problem };
  try {
    return evaluateWhere(parsed.expr, ctx);
  } catch (e) {
    return { error: e instanceof Error ? e.message : String(e) };
  }
}
