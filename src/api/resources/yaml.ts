/**
 * YAML and JSON forms of resources: several documents per file separated by
 * `---`, errors that name the file and line, and a stable output form.
 */
import { Document, isMap, isScalar, isSeq, LineCounter, parseAllDocuments, type Range, type Node as YamlNode } from "yaml";
import { badParameter } from "../errors.ts";
import type { Path } from "./issues.ts";
import { parseResource, type Resource } from "./parse.ts";

/** Larger inputs are refused before parsing. */
export const MAX_YAML_LENGTH = 8 * 1024 * 1024;

/** Parses every document of a YAML (or JSON) text. Throws bad-parameter listing all problems. */
export function parseYamlDocuments(text: string, source = "input"): Resource[] {
  if (text.length > MAX_YAML_LENGTH) {
    throw badParameter(`${source}: larger than ${MAX_YAML_LENGTH / 1024 / 1024} MiB; split it into several files`);
  }
  const lines = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (!Array.isArray(docs)) return []; // an empty stream
  const resources: Resource[] = [];
  const problems: string[] = [];
  for (const [i, doc] of docs.entries()) {
    const syntax = doc.errors[0];
    if (syntax !== undefined) {
      const pos = lines.linePos(syntax.pos[0]);
      problems.push(`${source}:${pos.line}:${pos.col}: invalid YAML: ${firstLine(syntax.message)}`);
      continue;
    }
    const lineOf = (path: Path) => lineOfPath(doc, path, lines);
    try {
      const value: unknown = doc.toJS({ maxAliasCount: 100 });
      if (value === null || value === undefined) continue; // an empty document, e.g. after a trailing ---
      resources.push(parseResource(value, { source, index: i + 1, lineOf }));
    } catch (e) {
      problems.push(e instanceof Error ? e.message : String(e));
    }
  }
  if (problems.length > 0) throw badParameter(problems.join("\n"));
  return resources;
}

function firstLine(s: string): string {
  return s.split("\n")[0] ?? s;
}

/**
 * The line of the deepest node on `path` that exists in the document: the key's
 * line for a map entry, the item's line for a list element.
 */
function lineOfPath(doc: Document, path: Path, lines: LineCounter): number | undefined {
  let node: unknown = doc.contents;
  let range: Range | undefined = (doc.contents as YamlNode | null)?.range ?? undefined;
  for (const seg of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
      if (pair === undefined) break;
      range = (isScalar(pair.key) ? pair.key.range : undefined) ?? range;
      node = pair.value;
    } else if (isSeq(node) && typeof seg === "number") {
      const item: unknown = node.items[seg];
      if (item === undefined) break;
      range = (item as YamlNode).range ?? range;
      node = item;
    } else {
      break;
    }
  }
  return range === undefined ? undefined : lines.linePos(range[0]).line;
}

const TOP_ORDER = ["kind", "sub_kind", "version", "metadata", "spec"];

function ordered(r: Resource): Record<string, unknown> {
  const src = r as unknown as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const k of TOP_ORDER) if (src[k] !== undefined) out[k] = src[k];
  for (const [k, v] of Object.entries(src)) if (!(k in out) && v !== undefined) out[k] = v;
  return out;
}

/** YAML for people and for `jctl get`: one document per resource, separated by `---`. */
export function toYaml(resources: readonly Resource[]): string {
  return resources.map((r) => new Document(ordered(r)).toString({ lineWidth: 0 })).join("---\n");
}

/** JSON with keys sorted at every level: equal resources give equal strings. */
export function toCanonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (typeof v !== "object" || v === null) return v;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v).sort()) {
    const val = (v as Record<string, unknown>)[k];
    if (val !== undefined) out[k] = sortKeys(val);
  }
  return out;
}
