/**
 * Role YAML from the web editor: parsed and validated here, with the same
 * schema and role checks `jctl create` uses, so that a problem comes back with
 * the line and column of the node it is about and the editor can mark it.
 */
import { type Document, isMap, isScalar, isSeq, LineCounter, parseAllDocuments, type Node as YamlNode } from "yaml";
import { JumpgateError } from "../../../../api/errors.ts";
import { type Path, parseResourceOf, type Role } from "../../../../api/resources/index.ts";
import { validateRole } from "../../../rbac/index.ts";

/** Role YAML is refused above this size (docs/web-api.md). */
export const MAX_ROLE_YAML_BYTES = 256 * 1024;

/**
 * A `bad-parameter` error about a YAML document, with the 1-based position of
 * the offending node when known. The web edge adds `line` and `column` to the
 * JSON error body next to `kind` and `message`.
 */
export class YamlProblem extends JumpgateError {
  readonly line: number | undefined;
  readonly column: number | undefined;

  constructor(message: string, at?: { line: number; column: number }) {
    super("bad-parameter", message);
    this.name = "YamlProblem";
    this.line = at?.line;
    this.column = at?.column;
  }
}

/** The fields a web error body carries for this error, if any. */
export function errorPosition(e: unknown): { line: number; column: number } | undefined {
  if (!(e instanceof YamlProblem) || e.line === undefined || e.column === undefined) return undefined;
  return { line: e.line, column: e.column };
}

/**
 * The deepest node on `path` that exists in the document: the key of a map
 * entry, or the item of a list. Its start, as line and column.
 */
function positionOf(doc: Document, path: Path, lines: LineCounter): { line: number; column: number } | undefined {
  let node: unknown = doc.contents;
  let start = (doc.contents as YamlNode | null)?.range?.[0];
  for (const seg of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
      if (pair === undefined) break;
      start = (isScalar(pair.key) ? pair.key.range?.[0] : undefined) ?? start;
      node = pair.value;
    } else if (isSeq(node) && typeof seg === "number") {
      const item: unknown = node.items[seg];
      if (item === undefined) break;
      start = (item as YamlNode).range?.[0] ?? start;
      node = item;
    } else {
      break;
    }
  }
  if (start === undefined) return undefined;
  const p = lines.linePos(start);
  return { line: p.line, column: p.col };
}

/** `spec.allow.logins[0]` or `spec.allow.node_labels["a.b"]` (as rbac's validateRole names fields) → a path. */
export function parseFieldPath(text: string): Path | undefined {
  const path: PropertyKey[] = [];
  const re = /(?:^|\.)([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]/y;
  let m: RegExpExecArray | null;
  let at = 0;
  while (at < text.length) {
    re.lastIndex = at;
    m = re.exec(text);
    if (!m) return undefined;
    if (m[1] !== undefined) path.push(m[1]);
    else if (m[2] !== undefined) path.push(Number(m[2]));
    else if (m[3] !== undefined) path.push(JSON.parse(m[3]) as string);
    at = re.lastIndex;
  }
  return path.length > 0 ? path : undefined;
}

/**
 * Parses and validates one role document. Throws `YamlProblem` (bad-parameter)
 * for a YAML syntax error, a schema problem or a role problem (templates,
 * patterns, `where`) or a name other than `expectedName`, positioned at the first problem's node when known.
 */
export function parseRoleYaml(text: string, expectedName?: string): Role {
  if (Buffer.byteLength(text) > MAX_ROLE_YAML_BYTES) {
    throw new YamlProblem(`the role is larger than ${MAX_ROLE_YAML_BYTES / 1024} KiB`);
  }
  const lines = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const all = Array.isArray(docs) ? docs.filter((d) => d.contents !== null || d.errors.length > 0) : [];
  const doc = all[0];
  if (doc === undefined) throw new YamlProblem("the document is empty; write a role (kind: role)");
  for (const d of all) {
    const syntax = d.errors[0];
    if (syntax !== undefined) {
      const p = lines.linePos(syntax.pos[0]);
      throw new YamlProblem(`invalid YAML: ${syntax.message.split("\n")[0] ?? syntax.message}`, { line: p.line, column: p.col });
    }
  }
  if (all.length > 1) {
    const start = all[1]?.range[0] ?? 0;
    const p = lines.linePos(start);
    throw new YamlProblem("send one role per document (found a second document after ---)", { line: p.line, column: p.col });
  }

  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    throw new YamlProblem(`invalid YAML: ${e instanceof Error ? e.message : String(e)}`);
  }
  const kind = typeof value === "object" && value !== null ? (value as { kind?: unknown }).kind : undefined;
  if (kind !== undefined && kind !== "role") {
    throw new YamlProblem(`expected kind "role", got ${JSON.stringify(kind)}`, positionOf(doc, ["kind"], lines));
  }
  // The schema reports each problem with its field path; the first one asked about is where the editor points.
  let first: Path | undefined;
  let role: Role;
  try {
    role = parseResourceOf("role", value, {
      lineOf: (path) => {
        first ??= path;
        return undefined;
      },
    });
  } catch (e) {
    if (!(e instanceof JumpgateError)) throw e;
    throw new YamlProblem(e.message, first === undefined ? undefined : positionOf(doc, first, lines));
  }
  if (expectedName !== undefined && role.metadata.name !== expectedName) {
    throw new YamlProblem(
      `metadata.name is "${role.metadata.name}" but you are saving role "${expectedName}"; they must be equal`,
      positionOf(doc, ["metadata", "name"], lines),
    );
  }
  const problems = validateRole(role);
  const problem = problems[0];
  if (problem !== undefined) {
    const field = parseFieldPath(problem.slice(0, problem.indexOf(":")));
    const at = field === undefined ? undefined : positionOf(doc, field, lines);
    throw new YamlProblem(`role "${role.metadata.name}": ${problems.join("; ")}`, at);
  }
  return role;
}
