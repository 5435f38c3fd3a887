/**
 * AccessChecker: every access decision for one user, from his current roles and
 * traits. Deny always beats allow; no roles means no access; anything that cannot
 * be evaluated (invalid pattern, unparsable where, missing context) fails closed.
 */
import { type JoinPolicy, type Role, tryParseDuration } from "../../api/resources/index.ts";
import { type CompiledConditions, type CompiledRole, compileRole } from "./compile.ts";
import { ALLOW, type Decision, deny, type Labels, type Traits } from "./decision.ts";
import { compilePattern, describeLabels, evaluateSelector, matchPattern, type Pattern } from "./labels.ts";
import { describeRule, ruleApplies, ruleCovers, type WhereMode } from "./rules.ts";
import type { RuleContext } from "./where.ts";

export interface CertPermissions {
  permitPty: boolean;
  permitPortForwarding: boolean;
  permitAgentForwarding: boolean;
  permitX11Forwarding: boolean;
}

export type KubeDecision =
  | { readonly allowed: true; readonly groups: string[]; readonly users: string[] }
  | { readonly allowed: false; readonly reason: string };

export interface KubeResourceRequest {
  kind: string;
  /** Empty or absent for cluster-scoped resources. */
  namespace?: string;
  name: string;
  verb: string;
}

/** Database users or names: those a role allows (minus denied ones), and those any role denies. */
export interface DbValues {
  allowed: string[];
  denied: string[];
}

/** One condition besides labels that a single role must satisfy, e.g. the login. */
interface Matcher {
  readonly what: string;
  allows(c: CompiledConditions): boolean;
  denies(c: CompiledConditions): boolean;
}

type SelectorField = "nodeLabels" | "dbLabels" | "appLabels" | "kubeLabels" | "desktopLabels";
const FIELD_NAMES: Record<SelectorField, string> = {
  nodeLabels: "node_labels",
  dbLabels: "db_labels",
  appLabels: "app_labels",
  kubeLabels: "kubernetes_labels",
  desktopLabels: "windows_desktop_labels",
};

const inSet = (what: string, value: string, pick: (c: CompiledConditions) => ReadonlySet<string>): Matcher => ({
  what,
  allows: (c) => pick(c).has(value),
  denies: (c) => pick(c).has(value),
});
const inSetOrStar = (what: string, value: string, pick: (c: CompiledConditions) => ReadonlySet<string>): Matcher => ({
  what,
  allows: (c) => pick(c).has("*") || pick(c).has(value),
  denies: (c) => pick(c).has("*") || pick(c).has(value),
});

export class AccessChecker {
  readonly roleNames: readonly string[];
  readonly traits: Traits;
  /** Problems met while compiling the roles (invalid templates, patterns): for logs. */
  readonly warnings: readonly string[];
  private readonly roles: readonly CompiledRole[];

  constructor(roles: readonly Role[], traits: Traits = {}) {
    const warnings: string[] = [];
    this.roles = roles.map((r) => compileRole(r, traits, warnings));
    this.roleNames = roles.map((r) => r.metadata.name);
    this.traits = traits;
    this.warnings = warnings;
  }

  /** Logins for the SSH certificate: allowed by any role, minus those any role denies; sorted. */
  sshLogins(): string[] {
    const denied = new Set(this.roles.flatMap((r) => [...r.deny.logins]));
    const allowed = new Set(this.roles.flatMap((r) => [...r.allow.logins]).filter((l) => !denied.has(l)));
    return [...allowed].sort();
  }

  /** The shortest max_session_ttl of all roles; 0 without roles. */
  maxSessionTtlMs(): number {
    if (this.roles.length === 0) return 0;
    return Math.min(...this.roles.map((r) => Math.max(0, tryParseDuration(r.options.max_session_ttl) ?? 0)));
  }

  /**
   * Certificate extensions. Agent and X11 forwarding are off unless a role turns
   * them on; port forwarding is on unless a role turns it off (deny wins, where
   * Teleport lets any allowing role win).
   */
  certPermissions(): CertPermissions {
    const any = this.roles.length > 0;
    const portOff = this.roles.some((r) => {
      const o = r.options;
      return o.port_forwarding === false || o.ssh_port_forwarding?.local?.enabled === false || o.ssh_port_forwarding?.remote?.enabled === false;
    });
    return {
      permitPty: any,
      permitPortForwarding: any && !portOff,
      permitAgentForwarding: this.roles.some((r) => r.options.forward_agent === true),
      permitX11Forwarding: this.roles.some((r) => r.options.permit_x11_forwarding === true),
    };
  }

  /** Per-session MFA is required if any role asks for it. */
  requireSessionMfa(): boolean {
    return this.roles.some((r) => {
      const v = r.options.require_session_mfa;
      return v === true || (typeof v === "string" && v !== "off");
    });
  }

  /** The shortest non-zero client_idle_timeout; 0 for none. */
  clientIdleTimeoutMs(): number {
    const all = this.roles.map((r) => tryParseDuration(r.options.client_idle_timeout ?? "0") ?? 0).filter((ms) => ms > 0);
    return all.length === 0 ? 0 : Math.min(...all);
  }

  disconnectExpiredCert(): boolean {
    return this.roles.some((r) => r.options.disconnect_expired_cert === true);
  }

  checkNodeAccess(node: { labels: Labels }, login: string): Decision {
    return this.check("node", "nodeLabels", node.labels, [inSet(`login ${JSON.stringify(login)}`, login, (c) => c.logins)]);
  }

  checkDatabaseAccess(db: { labels: Labels }, dbUser: string, dbName?: string): Decision {
    const matchers = [inSetOrStar(`database user ${JSON.stringify(dbUser)}`, dbUser, (c) => c.dbUsers)];
    if (dbName !== undefined) matchers.push(inSetOrStar(`database name ${JSON.stringify(dbName)}`, dbName, (c) => c.dbNames));
    return this.check("database", "dbLabels", db.labels, matchers);
  }

  /** Labels only: may the user see this database at all (`jsh db ls`)? Connections need checkDatabaseAccess. */
  checkDatabaseLabels(db: { labels: Labels }): Decision {
    return this.check("database", "dbLabels", db.labels, []);
  }

  /**
   * The database users and names the roles name for this database (`jsh db ls`,
   * the web UI): allowed by a role whose db_labels match it, minus what any role
   * denies; "*" means any. Every connection still goes through checkDatabaseAccess.
   */
  databaseAccessSummary(db: { labels: Labels }): { users: DbValues; names: DbValues } {
    const empty = { users: { allowed: [], denied: [] }, names: { allowed: [], denied: [] } };
    if (this.roles.length === 0) return empty;
    if (this.roles.some((r) => evaluateSelector(r.deny.dbLabels, db.labels).outcome !== "no-match")) return empty;
    const matching = this.roles.filter((r) => evaluateSelector(r.allow.dbLabels, db.labels).outcome === "match");
    const values = (pick: (c: CompiledConditions) => ReadonlySet<string>): DbValues => {
      const denied = new Set(this.roles.flatMap((r) => [...pick(r.deny)]));
      const allowed = denied.has("*") ? [] : [...new Set(matching.flatMap((r) => [...pick(r.allow)]))].filter((v) => !denied.has(v));
      return { allowed: allowed.sort(), denied: [...denied].sort() };
    };
    return { users: values((c) => c.dbUsers), names: values((c) => c.dbNames) };
  }

  checkAppAccess(app: { labels: Labels }): Decision {
    return this.check("app", "appLabels", app.labels, []);
  }

  checkDesktopAccess(desktop: { labels: Labels }, login: string): Decision {
    return this.check("desktop", "desktopLabels", desktop.labels, [inSet(`Windows login ${JSON.stringify(login)}`, login, (c) => c.windowsLogins)]);
  }

  /** Access to a Kubernetes cluster, with the groups and users to impersonate there. */
  checkKubeAccess(cluster: { labels: Labels }): KubeDecision {
    const d = this.check("Kubernetes cluster", "kubeLabels", cluster.labels, []);
    if (!d.allowed) return d;
    const groups = new Set<string>();
    const users = new Set<string>();
    for (const r of this.roles) {
      if (evaluateSelector(r.allow.kubeLabels, cluster.labels).outcome !== "match") continue;
      for (const g of r.allow.kubeGroups) groups.add(g);
      for (const u of r.allow.kubeUsers) users.add(u);
    }
    for (const r of this.roles) {
      for (const g of r.deny.kubeGroups) groups.delete(g);
      for (const u of r.deny.kubeUsers) users.delete(u);
    }
    if (groups.size === 0 && users.size === 0) {
      return deny("no kubernetes_groups or kubernetes_users are allowed for this Kubernetes cluster");
    }
    return { allowed: true, groups: [...groups].sort(), users: [...users].sort() };
  }

  /** One request to a Kubernetes API resource, checked against kubernetes_resources. */
  checkKubeResource(cluster: { labels: Labels }, req: KubeResourceRequest): Decision {
    const base = this.checkKubeAccess(cluster);
    if (!base.allowed) return base;
    const ns = req.namespace ?? "";
    const what = `${req.verb} on ${req.kind} ${ns === "" ? req.name : `${ns}/${req.name}`}`;
    const covers = (c: CompiledConditions) =>
      c.kubeResources.some(
        (k) =>
          (k.kind === "*" || k.kind === req.kind) &&
          (k.verbs.includes("*") || k.verbs.includes(req.verb)) &&
          matchPattern(k.namespace, ns) !== "no-match" &&
          matchPattern(k.name, req.name) !== "no-match",
      );
    const denier = this.roles.find((r) => covers(r.deny));
    if (denier !== undefined) return deny(`denied by role "${denier.name}": ${what} is denied`);
    const allowedBy = this.roles.some(
      (r) =>
        evaluateSelector(r.allow.kubeLabels, cluster.labels).outcome === "match" &&
        r.allow.kubeResources.some(
          (k) =>
            (k.kind === "*" || k.kind === req.kind) &&
            (k.verbs.includes("*") || k.verbs.includes(req.verb)) &&
            matchPattern(k.namespace, ns) === "match" &&
            matchPattern(k.name, req.name) === "match",
        ),
    );
    return allowedBy ? ALLOW : deny(`no role allows ${what}`);
  }

  /**
   * May the user do `verb` on `resource`? Deny rules are checked first; a deny
   * rule whose where clause cannot be decided denies, an allow rule whose where
   * clause cannot be decided does not allow.
   */
  checkRule(resource: string, verb: string, ctx: RuleContext = {}): Decision {
    return this.ruleDecision(resource, verb, { kind: "evaluate", ctx });
  }

  /**
   * checkRule without a context, for the escalation guard: conditional denies
   * deny; conditional allows grant nothing unless their clause is exactly `sameWhere`.
   */
  checkRuleConservative(resource: string, verb: string, sameWhere?: string): Decision {
    return this.ruleDecision(resource, verb, sameWhere === undefined ? { kind: "conservative" } : { kind: "conservative", sameWhere });
  }

  /** Every resource and verb named in this user's rules (for the escalation guard). */
  ruleTerms(): { resources: Set<string>; verbs: Set<string> } {
    const resources = new Set<string>();
    const verbs = new Set<string>();
    for (const r of this.roles) {
      for (const rule of [...r.allow.rules, ...r.deny.rules]) {
        for (const x of rule.resources) resources.add(x);
        for (const v of rule.verbs) verbs.add(v);
      }
    }
    return { resources, verbs };
  }

  private ruleDecision(resource: string, verb: string, mode: WhereMode): Decision {
    if (this.roles.length === 0) return deny("no roles assigned");
    for (const r of this.roles) {
      for (const rule of r.deny.rules) {
        if (!ruleCovers(rule, resource, verb)) continue;
        const applies = ruleApplies(rule, mode, "deny");
        if (applies === true) return deny(`denied by role "${r.name}" (deny rule ${describeRule(rule)})`);
        if (applies !== false) return deny(`denied by role "${r.name}": its deny rule's where clause could not be evaluated (${applies.error})`);
      }
    }
    for (const r of this.roles) {
      for (const rule of r.allow.rules) {
        if (ruleCovers(rule, resource, verb) && ruleApplies(rule, mode, "allow") === true) return ALLOW;
      }
    }
    return deny(`no role allows ${JSON.stringify(verb)} on ${JSON.stringify(resource)}`);
  }

  /** May the user join a session of `kind` ("ssh", "k8s"...) started by someone with `hostRoles`, in `mode`? */
  canJoinSession(session: { kind: string; hostRoles: readonly string[] }, mode: string): Decision {
    if (this.roles.length === 0) return deny("no roles assigned");
    const covers = (p: JoinPolicy) =>
      (p.kinds.includes("*") || p.kinds.includes(session.kind)) &&
      (p.modes as readonly string[]).includes(mode) &&
      p.roles.some((pattern) => session.hostRoles.some((h) => matchPattern(compilePattern(pattern), h) === "match"));
    for (const r of this.roles) {
      const p = r.deny.joinSessions.find(covers);
      if (p !== undefined) return deny(`denied by role "${r.name}" (join policy "${p.name}")`);
    }
    for (const r of this.roles) if (r.allow.joinSessions.some(covers)) return ALLOW;
    return deny(`no join_sessions policy allows joining ${session.kind} sessions as ${mode}`);
  }

  /** May the user request `role` through an access request? */
  canRequestRole(role: string): Decision {
    return this.rolePatternCheck(role, (c) => c.requestRoles, "request");
  }

  /** May the user review requests for `role`? */
  canReviewRole(role: string): Decision {
    return this.rolePatternCheck(role, (c) => c.reviewRoles, "review requests for");
  }

  private rolePatternCheck(role: string, pick: (c: CompiledConditions) => readonly Pattern[], verb: string): Decision {
    if (this.roles.length === 0) return deny("no roles assigned");
    for (const r of this.roles) {
      if (pick(r.deny).some((p) => matchPattern(p, role) !== "no-match")) return deny(`denied by role "${r.name}": may not ${verb} role "${role}"`);
    }
    if (this.roles.some((r) => pick(r.allow).some((p) => matchPattern(p, role) === "match"))) return ALLOW;
    return deny(`no role allows you to ${verb} role "${role}"`);
  }

  /**
   * Teleport's resource check: deny is greedy (a role whose deny labels match, or
   * whose deny list holds the login, denies); allow needs one role in which the
   * labels and every matcher match together.
   */
  private check(what: string, field: SelectorField, labels: Labels, matchers: readonly Matcher[]): Decision {
    if (this.roles.length === 0) return deny("no roles assigned");
    const fieldName = FIELD_NAMES[field];
    for (const r of this.roles) {
      const d = evaluateSelector(r.deny[field], labels);
      if (d.outcome === "match") return deny(`denied by role "${r.name}": its deny ${fieldName} match this ${what}`);
      if (d.outcome === "error") return deny(`denied by role "${r.name}": its deny ${fieldName} could not be evaluated (${d.reason})`);
      for (const m of matchers) if (m.denies(r.deny)) return deny(`denied by role "${r.name}": ${m.what} is denied`);
    }
    let anyLabels = false;
    const satisfied = matchers.map(() => false);
    for (const r of this.roles) {
      const labelsOk = evaluateSelector(r.allow[field], labels).outcome === "match";
      const ok = matchers.map((m) => m.allows(r.allow));
      if (labelsOk && ok.every(Boolean)) return ALLOW;
      anyLabels ||= labelsOk;
      ok.forEach((v, i) => {
        satisfied[i] ||= v;
      });
    }
    const missing = matchers.find((_, i) => !satisfied[i]);
    if (missing !== undefined) return deny(`no role allows ${missing.what}`);
    if (!anyLabels) return deny(`no role's ${fieldName} match this ${what} (${describeLabels(labels)})`);
    const needs = matchers.map((m) => m.what).join(" and ");
    return deny(`no single role allows ${needs} on this ${what} (${describeLabels(labels)})`);
  }
}
