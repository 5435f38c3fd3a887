/**
 * A role compiled for one user: templates expanded with the user's traits,
 * selectors and patterns compiled once. Problems (invalid templates, patterns or
 * where clauses) are collected for the logs; what cannot be used is dropped, and
 * the check that would have used it fails closed.
 */
import type { JoinPolicy, LabelSelector, Role, RoleConditions, RoleOptions, Rule } from "../../api/resources/index.ts";
import type { Traits } from "./decision.ts";
import { type CompiledSelector, compilePattern, compileTemplatedPattern, type Pattern, type SelectorEntry } from "./labels.ts";
import { evaluate, expandTemplate, expandValues, parseTemplate } from "./templates.ts";

export interface CompiledKubeResource {
  readonly kind: string;
  readonly namespace: Pattern;
  readonly name: Pattern;
  readonly verbs: readonly string[];
}

export interface CompiledConditions {
  readonly logins: ReadonlySet<string>;
  readonly windowsLogins: ReadonlySet<string>;
  readonly nodeLabels: CompiledSelector;
  readonly dbLabels: CompiledSelector;
  readonly appLabels: CompiledSelector;
  readonly kubeLabels: CompiledSelector;
  readonly desktopLabels: CompiledSelector;
  readonly dbUsers: ReadonlySet<string>;
  readonly dbNames: ReadonlySet<string>;
  readonly kubeGroups: ReadonlySet<string>;
  readonly kubeUsers: ReadonlySet<string>;
  readonly kubeResources: readonly CompiledKubeResource[];
  readonly rules: readonly Rule[];
  readonly joinSessions: readonly JoinPolicy[];
  readonly requestRoles: readonly Pattern[];
  readonly reviewRoles: readonly Pattern[];
}

export interface CompiledRole {
  readonly name: string;
  readonly allow: CompiledConditions;
  readonly deny: CompiledConditions;
  readonly options: RoleOptions;
}

/** An SSH principal: no whitespace, control characters or commas, and never "*". */
const SSH_LOGIN = /^[^\s\p{Cc},]+$/u;
const PRINTABLE = /^[^\p{Cc}]+$/u;

export function compileRole(role: Role, traits: Traits, problems: string[]): CompiledRole {
  const name = role.metadata.name;
  return {
    name,
    allow: compileConditions(role.spec.allow, traits, (p) => problems.push(`role "${name}": spec.allow.${p}`)),
    deny: compileConditions(role.spec.deny, traits, (p) => problems.push(`role "${name}": spec.deny.${p}`)),
    options: role.spec.options,
  };
}

type Report = (problem: string) => void;

function compileConditions(c: RoleConditions, traits: Traits, report: Report): CompiledConditions {
  const list = (field: string, values: readonly string[] | undefined, valid: RegExp = PRINTABLE): Set<string> => {
    const r = expandValues(values ?? [], traits);
    for (const p of r.problems) report(`${field}: ${p}`);
    const out = new Set<string>();
    for (const v of r.values) {
      if (valid.test(v) && v !== "") out.add(v);
      else report(`${field}: dropped invalid value ${JSON.stringify(v)}`);
    }
    return out;
  };
  const logins = list("logins", c.logins, SSH_LOGIN);
  logins.delete("*");
  return {
    logins,
    windowsLogins: list("windows_desktop_logins", c.windows_desktop_logins),
    nodeLabels: selector("node_labels", c.node_labels, traits, report),
    dbLabels: selector("db_labels", c.db_labels, traits, report),
    appLabels: selector("app_labels", c.app_labels, traits, report),
    kubeLabels: selector("kubernetes_labels", c.kubernetes_labels, traits, report),
    desktopLabels: selector("windows_desktop_labels", c.windows_desktop_labels, traits, report),
    dbUsers: list("db_users", c.db_users),
    dbNames: list("db_names", c.db_names),
    kubeGroups: list("kubernetes_groups", c.kubernetes_groups),
    kubeUsers: list("kubernetes_users", c.kubernetes_users),
    kubeResources: (c.kubernetes_resources ?? []).map((r) => ({
      kind: r.kind,
      namespace: compilePattern(r.namespace ?? ""),
      name: compilePattern(r.name),
      verbs: r.verbs ?? ["*"],
    })),
    rules: c.rules ?? [],
    joinSessions: c.join_sessions ?? [],
    requestRoles: (c.request?.roles ?? []).map(compilePattern),
    reviewRoles: (c.review_requests?.roles ?? []).map(compilePattern),
  };
}

/**
 * Expands templates in keys and values. A trait value is always matched
 * literally; a key or value list that expands to nothing never matches (for
 * allow, less access; for deny, Teleport's behaviour).
 */
function selector(field: string, sel: LabelSelector | undefined, traits: Traits, report: Report): CompiledSelector {
  const entries: SelectorEntry[] = [];
  let matchAll = false;
  for (const [rawKey, raw] of Object.entries(sel ?? {})) {
    const values: readonly string[] = typeof raw === "string" ? [raw] : raw;
    if (rawKey === "*" && values.length === 1 && values[0] === "*") matchAll = true;
    const keys = expandTemplate(rawKey, traits);
    if (keys.problem !== undefined) report(`${field}: ${keys.problem}`);
    const patterns: Pattern[] = [];
    for (const v of values) {
      const parsed = parseTemplate(v);
      if (parsed.kind === "literal") {
        const p = compilePattern(v);
        if (p.kind === "invalid") report(`${field}.${rawKey}: invalid pattern ${JSON.stringify(v)}: ${p.problem}`);
        patterns.push(p);
      } else if (parsed.kind === "invalid") {
        report(`${field}.${rawKey}: ${parsed.problem}`);
      } else {
        const r = evaluate(parsed.expr, traits);
        for (const p of r.problems) report(`${field}.${rawKey}: ${p}`);
        for (const x of r.values) patterns.push(compileTemplatedPattern(parsed.prefix, x, parsed.suffix));
      }
    }
    entries.push({ key: keys.values[0], patterns });
  }
  return { matchAll, entries };
}
