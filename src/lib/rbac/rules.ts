/** Resource rules: `{resources, verbs, where}`, with "*" for any resource or verb. */
import type { Rule } from "../../api/resources/index.ts";
import { checkWhere, type RuleContext } from "./where.ts";

/** The standard verbs. `read` also satisfies `read_no_secrets`, as in Teleport. */
export const VERBS = ["list", "create", "read", "update", "delete"] as const;

export function coversResource(resources: readonly string[], resource: string): boolean {
  return resources.includes("*") || resources.includes(resource);
}

export function coversVerb(verbs: readonly string[], verb: string): boolean {
  return verbs.includes("*") || verbs.includes(verb) || (verb === "read_no_secrets" && verbs.includes("read"));
}

export function ruleCovers(rule: Rule, resource: string, verb: string): boolean {
  return coversResource(rule.resources, resource) && coversVerb(rule.verbs, verb);
}

/** How `where` clauses are treated. */
export type WhereMode =
  /** Evaluated against the context; unparsable or undecidable counts as "deny matches, allow does not". */
  | { readonly kind: "evaluate"; readonly ctx: RuleContext }
  /**
   * Without a context, as the escalation guard needs: conditional denies deny;
   * conditional allows grant nothing, except one whose clause is exactly `sameWhere`.
   */
  | { readonly kind: "conservative"; readonly sameWhere?: string };

/** Whether the rule applies: true, false, or an error message (which callers treat as failing closed). */
export function ruleApplies(rule: Rule, mode: WhereMode, side: "allow" | "deny"): boolean | { error: string } {
  if (rule.where === undefined || rule.where.trim() === "") return true;
  if (mode.kind === "conservative") {
    return side === "deny" || (mode.sameWhere !== undefined && normalizeWhere(rule.where) === normalizeWhere(mode.sameWhere));
  }
  return checkWhere(rule.where, mode.ctx);
}

export function normalizeWhere(w: string): string {
  return w.replace(/\s+/g, " ").trim();
}

/** `{resources: [role, user], verbs: [read, update]}`, for messages. */
export function describeRule(rule: Rule): string {
  const where = rule.where !== undefined ? `, where: ${rule.where}` : "";
  return `{resources: [${rule.resources.join(", ")}], verbs: [${rule.verbs.join(", ")}]${where}}`;
}
