/**
 * The escalation guard: whoever may write roles or assign them must not be able
 * to hand out (to himself or anyone) resource rules he does not hold himself.
 *
 * Exact for wildcards: the target's rules and the actor's are compared on every
 * resource and verb either of them names, plus one stand-in for "any other",
 * which only a "*" covers. `where` clauses are read conservatively: a target's
 * conditional allow must be covered by an unconditional allow of the actor or
 * one with the very same clause; the actor's conditional deny counts as a deny.
 */
import type { Role, Rule } from "../../api/resources/index.ts";
import type { AccessChecker } from "./checker.ts";
import { ALLOW, type Decision, deny } from "./decision.ts";
import { coversResource, coversVerb, describeRule } from "./rules.ts";
import type { RuleContext } from "./where.ts";

export type GrantVerb = "create" | "update";

/**
 * What is being granted: a role being written (`role`), or roles being assigned
 * to a user (`assignRole` / `assignRoles`). Without `verb`, either create or
 * update rights suffice here (the caller checks the exact verb of its call).
 */
export type GrantTarget =
  | { readonly role: Role; readonly verb?: GrantVerb }
  | { readonly assignRole: Role; readonly verb?: GrantVerb }
  | { readonly assignRoles: readonly Role[]; readonly verb?: GrantVerb };

const OTHER_RESOURCE = "\u0000other-resource";
const OTHER_VERB = "\u0000other-verb";

export function checkCanGrant(actor: AccessChecker, target: GrantTarget, ctx: RuleContext = {}): Decision {
  const writing = "role" in target;
  const kind = writing ? "role" : "user";
  const roles: readonly Role[] = "role" in target ? [target.role] : "assignRole" in target ? [target.assignRole] : target.assignRoles;
  const verbs: GrantVerb[] = target.verb !== undefined ? [target.verb] : ["create", "update"];

  const rights = verbs.map((v) => actor.checkRule(kind, v, ctx));
  if (!rights.some((d) => d.allowed)) {
    const first = rights[0];
    const why = first !== undefined && !first.allowed ? ` (${first.reason})` : "";
    return deny(writing ? `you may not ${verbs.join(" or ")} roles${why}` : `assigning roles needs permission to ${verbs.join(" or ")} users${why}`);
  }
  for (const role of roles) {
    const excess = firstExcessGrant(actor, role);
    if (excess !== undefined) return deny(excess);
  }
  return ALLOW;
}

/** Describes the first (resource, verb) the role's allow rules grant beyond the actor's rules. */
function firstExcessGrant(actor: AccessChecker, role: Role): string | undefined {
  const allowRules = role.spec.allow.rules ?? [];
  if (allowRules.length === 0) return undefined;
  const terms = actor.ruleTerms();
  const resources = new Set(terms.resources);
  const verbs = new Set(terms.verbs);
  for (const rule of [...allowRules, ...(role.spec.deny.rules ?? [])]) {
    for (const r of rule.resources) resources.add(r);
    for (const v of rule.verbs) verbs.add(v);
  }
  resources.delete("*");
  verbs.delete("*");
  // Unconditional deny rules of the role itself take away from what it grants.
  const selfDeny = (role.spec.deny.rules ?? []).filter((r) => r.where === undefined || r.where.trim() === "");
  const selfDenies = (res: string, verb: string) => selfDeny.some((r) => coversResource(r.resources, res) && coversVerb(r.verbs, verb));

  for (const [i, rule] of allowRules.entries()) {
    for (const res of candidates(rule.resources, resources, OTHER_RESOURCE)) {
      for (const verb of candidates(rule.verbs, verbs, OTHER_VERB)) {
        if (!coversVerb(rule.verbs, verb) || selfDenies(res, verb)) continue;
        if (actor.checkRuleConservative(res, verb, rule.where).allowed) continue;
        const onWhat = res === OTHER_RESOURCE ? `any resource ("*")` : JSON.stringify(res);
        const doWhat = verb === OTHER_VERB ? `any verb ("*")` : JSON.stringify(verb);
        return `role "${role.metadata.name}" allow rule #${i + 1} ${describeRule(rule)} would grant ${doWhat} on ${onWhat}, which you are not allowed yourself`;
      }
    }
  }
  return undefined;
}

/** The values a rule list covers: for "*" the stand-in first (clearest message), then every known term. */
function candidates(listed: Rule["resources"], universe: ReadonlySet<string>, other: string): string[] {
  if (listed.includes("*")) return [other, ...universe];
  return listed.filter((x) => universe.has(x));
}
