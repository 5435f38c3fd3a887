/**
 * Checks the parts of a role the schema cannot: templates and where clauses.
 * The auth service calls this on every role write and refuses the role if it
 * returns problems; at evaluation time the same problems only drop the value.
 */
import type { LabelSelector, Role, RoleConditions } from "../../api/resources/index.ts";
import { compilePattern } from "./labels.ts";
import { parseTemplate } from "./templates.ts";
import { parseWhere } from "./where.ts";

const TEMPLATED_LISTS = ["logins", "windows_desktop_logins", "db_users", "db_names", "kubernetes_groups", "kubernetes_users"] as const satisfies ReadonlyArray<
  keyof RoleConditions
>;

const SELECTORS = ["node_labels", "db_labels", "app_labels", "kubernetes_labels", "windows_desktop_labels"] as const satisfies ReadonlyArray<
  keyof RoleConditions
>;

/** Every problem, as `spec.allow.logins[0]: invalid template "...": ...`; empty when the role is sound. */
export function validateRole(role: Role): string[] {
  const problems: string[] = [];
  for (const side of ["allow", "deny"] as const) {
    const c = role.spec[side];
    const at = (field: string) => `spec.${side}.${field}`;
    for (const field of TEMPLATED_LISTS) {
      for (const [i, v] of (c[field] ?? []).entries()) {
        const p = parseTemplate(v);
        if (p.kind === "invalid") problems.push(`${at(field)}[${i}]: ${p.problem}`);
      }
    }
    for (const field of SELECTORS) checkSelector(at(field), c[field], problems);
    for (const [i, rule] of (c.rules ?? []).entries()) {
      if (rule.where === undefined) continue;
      const w = parseWhere(rule.where);
      if (!w.ok) problems.push(`${at(`rules[${i}].where`)}: ${w.problem}`);
    }
    for (const [i, k] of (c.kubernetes_resources ?? []).entries()) {
      for (const [name, v] of [
        ["namespace", k.namespace ?? ""],
        ["name", k.name],
      ] as const) {
        const p = compilePattern(v);
        if (p.kind === "invalid") problems.push(`${at(`kubernetes_resources[${i}].${name}`)}: invalid pattern ${JSON.stringify(v)}: ${p.problem}`);
      }
    }
    const rolePatterns: Array<[string, readonly string[]]> = [
      ["request.roles", c.request?.roles ?? []],
      ["review_requests.roles", c.review_requests?.roles ?? []],
      ...(c.join_sessions ?? []).map((j, i): [string, readonly string[]] => [`join_sessions[${i}].roles`, j.roles]),
    ];
    for (const [field, list] of rolePatterns) {
      for (const [i, v] of list.entries()) {
        const p = compilePattern(v);
        if (p.kind === "invalid") problems.push(`${at(field)}[${i}]: invalid pattern ${JSON.stringify(v)}: ${p.problem}`);
      }
    }
  }
  return problems;
}

function checkSelector(at: string, sel: LabelSelector | undefined, problems: string[]): void {
  for (const [key, raw] of Object.entries(sel ?? {})) {
    const k = parseTemplate(key);
    if (k.kind === "invalid") problems.push(`${at}: ${k.problem}`);
    for (const v of typeof raw === "string" ? [raw] : raw) {
      const p = parseTemplate(v);
      if (p.kind === "invalid") problems.push(`${at}.${key}: ${p.problem}`);
      else if (p.kind === "literal") {
        const pat = compilePattern(v);
        if (pat.kind === "invalid") problems.push(`${at}.${key}: invalid pattern ${JSON.stringify(v)}: ${pat.problem}`);
      }
    }
  }
}
