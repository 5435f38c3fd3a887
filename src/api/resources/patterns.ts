/**
 * What a label value in a role may be: "*", a glob ("prod-*", where only "*" is
 * special), or a full-match regular expression written "^...$". Regular expressions
 * come from role authors, so they are checked here for things that make the
 * backtracking JavaScript engine take exponential time.
 */

export const MAX_REGEX_LENGTH = 256;
/** Regex matching is refused (treated as an error) on longer values. */
export const MAX_REGEX_INPUT_LENGTH = 1024;
const MAX_UNBOUNDED_QUANTIFIERS = 6;

export type CompiledRegex = { ok: true; re: RegExp } | { ok: false; problem: string };

export function isRegexPattern(value: string): boolean {
  return value.length >= 2 && value.startsWith("^") && value.endsWith("$");
}

const cache = new Map<string, CompiledRegex>();
const CACHE_LIMIT = 2000;

/**
 * Compiles a "^...$" pattern for a full match. Go's leading inline flags ("(?i)",
 * also after the "^") and named groups "(?P<name>...)" are translated.
 */
export function compileFullMatchRegex(pattern: string): CompiledRegex {
  const hit = cache.get(pattern);
  if (hit !== undefined) return hit;
  const result = compile(pattern);
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(pattern, result);
  return result;
}

function compile(pattern: string): CompiledRegex {
  if (pattern.length > MAX_REGEX_LENGTH) {
    return { ok: false, problem: `longer than ${MAX_REGEX_LENGTH} characters` };
  }
  let source = pattern;
  let flags = "";
  const lead = /^(\^?)\(\?([imsU]+)\)/.exec(source);
  if (lead !== null) {
    const [whole, caret = "", goFlags = ""] = lead;
    if (goFlags.includes("U")) return { ok: false, problem: "the (?U) flag is not supported" };
    flags = [...new Set(goFlags)].join("");
    source = caret + source.slice(whole.length);
  }
  source = source.replaceAll("(?P<", "(?<");
  const unsafe = regexSafetyProblem(source);
  if (unsafe !== undefined) return { ok: false, problem: unsafe };
  try {
    return { ok: true, re: new RegExp(`^(?:${source})$`, flags) };
  } catch (e) {
    const raw = e instanceof Error ? e.message : String(e);
    const msg = raw.replace(/^Invalid regular expression: \/.*\/[a-z]*: /s, "");
    return { ok: false, problem: msg.charAt(0).toLowerCase() + msg.slice(1) };
  }
}

interface Group {
  quantified: boolean;
  alternation: boolean;
}

/**
 * A conservative check for catastrophic backtracking: refuses back-references,
 * a repeated group that itself contains a repetition or an alternation
 * ("(a+)+", "(a|ab)*"), and more than a handful of unbounded repetitions.
 */
export function regexSafetyProblem(source: string): string | undefined {
  const stack: Group[] = [{ quantified: false, alternation: false }];
  let unbounded = 0;
  let i = 0;
  const top = (): Group => stack[stack.length - 1] ?? { quantified: false, alternation: false };
  /** After an atom ending before `end`: reads its quantifier, returns where the next token starts. */
  const atom = (end: number): number => {
    const q = readQuantifier(source, end);
    if (q.repeats) top().quantified = true;
    if (q.unbounded) unbounded += 1;
    return end + q.length;
  };
  while (i < source.length) {
    const c = source[i];
    if (c === "\\") {
      const next = source[i + 1] ?? "";
      if (/[1-9]/.test(next) || (next === "k" && source[i + 2] === "<")) {
        return "back-references are not allowed";
      }
      i = atom(i + 2);
    } else if (c === "[") {
      i = atom(skipClass(source, i));
    } else if (c === "(") {
      stack.push({ quantified: false, alternation: false });
      i += 1;
    } else if (c === ")") {
      const inner = stack.pop();
      if (inner === undefined || stack.length === 0) return "unbalanced parenthesis";
      const q = readQuantifier(source, i + 1);
      if (q.repeats && (inner.quantified || inner.alternation)) {
        return inner.quantified
          ? "a repeated group contains another repetition (like (a+)+), which can take exponential time"
          : "a repeated group contains an alternation (like (a|b)*), which can take exponential time";
      }
      if (q.unbounded) unbounded += 1;
      const parent = top();
      parent.quantified ||= inner.quantified || q.repeats;
      i = i + 1 + q.length;
    } else if (c === "|") {
      top().alternation = true;
      i += 1;
    } else {
      i = atom(i + 1);
    }
    if (unbounded > MAX_UNBOUNDED_QUANTIFIERS) {
      return `more than ${MAX_UNBOUNDED_QUANTIFIERS} unbounded repetitions (* or +)`;
    }
  }
  if (stack.length !== 1) return "unbalanced parenthesis";
  return undefined;
}

function skipClass(s: string, start: number): number {
  let i = start + 1;
  if (s[i] === "^") i += 1;
  if (s[i] === "]") i += 1;
  while (i < s.length && s[i] !== "]") i += s[i] === "\\" ? 2 : 1;
  return i + 1;
}

/** Reads a quantifier at position i: "*", "+", "?", "{n}", "{n,}", "{n,m}", each optionally lazy. */
function readQuantifier(s: string, i: number): { length: number; repeats: boolean; unbounded: boolean } {
  const c = s[i];
  let length = 0;
  let repeats = false;
  let unbounded = false;
  if (c === "*" || c === "+") {
    length = 1;
    repeats = true;
    unbounded = true;
  } else if (c === "?") {
    length = 1;
  } else if (c === "{") {
    const m = /^\{(\d+)(,(\d*))?\}/.exec(s.slice(i));
    if (m !== null) {
      length = m[0].length;
      const min = Number(m[1]);
      const max = m[2] === undefined ? min : m[3] === "" ? Number.POSITIVE_INFINITY : Number(m[3]);
      repeats = max > 1;
      unbounded = max === Number.POSITIVE_INFINITY;
    }
  }
  if (length > 0 && s[i + length] === "?") length += 1;
  return { length, repeats, unbounded };
}
