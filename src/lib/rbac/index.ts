/** Role evaluation (DESIGN §3): the public surface of src/lib/rbac. Pure functions, no I/O. */
export { AccessChecker, type CertPermissions, type DbValues, type KubeDecision, type KubeResourceRequest } from "./checker.ts";
export { ALLOW, type Decision, type Denied, deny, type LabelSelectorInput, type Labels, type Traits } from "./decision.ts";
export { checkCanGrant, type GrantTarget, type GrantVerb } from "./escalation.ts";
export {
  type CompiledSelector,
  compilePattern,
  compileSelector,
  describeLabels,
  evaluateSelector,
  matchLabels,
  matchPattern,
  matchValue,
  type Outcome,
  type Pattern,
} from "./labels.ts";
export { presetRoles } from "./presets.ts";
export { coversResource, coversVerb, ruleCovers, VERBS } from "./rules.ts";
export { type Expansion, expandTemplate, expandValues, INTERNAL_TRAITS, isTemplate, type ParsedValue, parseTemplate } from "./templates.ts";
export { validateRole } from "./validate.ts";
export { checkWhere, evaluateWhere, type ParsedWhere, parseWhere, type RuleContext, WHERE_ROOTS } from "./where.ts";
