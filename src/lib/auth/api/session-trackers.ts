/**
 * Who may read and write `session_tracker` resources through the generic
 * resource API:
 * - a node writes only trackers carrying its own host UUID (and never
 *   overwrites another host's), quietly (no audit event per refresh);
 * - a proxy writes, as quietly, the trackers of agentless OpenSSH nodes'
 *   sessions, which it forwards and records;
 * - a user sees the trackers of sessions he owns, takes part in, or could
 *   join in some mode by his roles' `join_sessions` (checked against the
 *   owner's current roles), or every tracker with a `session_tracker` rule;
 * - admins and agents (proxy, node, ...) read them all.
 */
import { accessDenied, notFound } from "../../../api/errors.ts";
import { JOIN_MODES, type SessionTrackerSpec } from "../../../api/resources/index.ts";
import { ALLOW, type Decision, deny } from "../../rbac/index.ts";
import type { StoredResource } from "../../services/index.ts";
import type { AuthContext } from "../context.ts";
import type { UserResource } from "../users.ts";
import { type Caller, requireRule } from "./authz.ts";

export const SESSION_TRACKER = "session_tracker";

type UserCaller = Extract<Caller, { kind: "user" }>;

const specOf = (r: StoredResource): SessionTrackerSpec => r.spec as SessionTrackerSpec;

/** The owner's current role names (none when he no longer exists: then only rules show the tracker). */
async function ownerRoles(ctx: AuthContext, owner: string, cache: Map<string, Promise<string[]>>): Promise<string[]> {
  let roles = cache.get(owner);
  if (!roles) {
    roles = ctx.stores.users.find(owner).then((u) => (u ? (u as UserResource).spec.roles : []));
    cache.set(owner, roles);
  }
  return roles;
}

/** Whether a user may see this tracker, and if not, why (in terms of joining, which is what he wanted). */
async function visibleTo(ctx: AuthContext, c: UserCaller, t: StoredResource, cache: Map<string, Promise<string[]>>): Promise<Decision> {
  const spec = specOf(t);
  if (spec.owner === c.name || spec.participants.some((p) => p.user === c.name)) return ALLOW;
  const hostRoles = await ownerRoles(ctx, spec.owner, cache);
  let first: Decision | undefined;
  for (const mode of JOIN_MODES) {
    const d = c.checker.canJoinSession({ kind: spec.kind, hostRoles }, mode);
    if (d.allowed) return d;
    first ??= d;
  }
  return first ?? deny("no join_sessions policy applies");
}

const mayListAll = (c: Caller) => c.kind !== "user" || c.checker.checkRule(SESSION_TRACKER, "list").allowed;

/** The trackers this caller may see. */
export async function listSessionTrackers(ctx: AuthContext, c: Caller): Promise<StoredResource[]> {
  const all = await ctx.stores.sessionTrackers.list();
  if (mayListAll(c)) {
    requireRule(c, SESSION_TRACKER, "list");
    return all;
  }
  const user = c as UserCaller;
  const cache = new Map<string, Promise<string[]>>();
  const shown: StoredResource[] = [];
  for (const t of all) if ((await visibleTo(ctx, user, t, cache)).allowed) shown.push(t);
  return shown;
}

/** One tracker by session ID; refused with the joining reason when the user could not join it. */
export async function getSessionTracker(ctx: AuthContext, c: Caller, id: string): Promise<StoredResource> {
  if (c.kind !== "user" || c.checker.checkRule(SESSION_TRACKER, "read").allowed) {
    requireRule(c, SESSION_TRACKER, "read");
    return ctx.stores.sessionTrackers.get(id);
  }
  const t = await ctx.stores.sessionTrackers.find(id);
  if (!t) throw notFound(`session ${id} not found (it ended, or never existed)`);
  const d = await visibleTo(ctx, c, t, new Map());
  if (!d.allowed) throw accessDenied(`access denied: you may not join session ${id} (${d.reason})`);
  return t;
}

/**
 * Checks a tracker write. A host with the `node` role writes only its own
 * trackers; others go through the resource rules. True when the write is an
 * agent's bookkeeping, which is not audited as a resource change.
 */
export async function guardSessionTrackerWrite(ctx: AuthContext, c: Caller, doc: Record<string, unknown>, verbs: string[]): Promise<boolean> {
  if (c.kind === "host" && c.systemRoles.includes("node")) {
    const spec = doc.spec as { host_id?: unknown; session_id?: unknown } | undefined;
    if (spec?.host_id !== c.name) throw accessDenied(`host ${c.name} may only write session trackers for itself`);
    const name = (doc.metadata as { name?: unknown } | undefined)?.name;
    const existing = typeof name === "string" && name !== "" ? await ctx.stores.sessionTrackers.find(name) : undefined;
    if (existing && specOf(existing).host_id !== c.name) {
      throw accessDenied(`host ${c.name} may not overwrite session ${name} of another host`);
    }
    return true;
  }
  if (c.kind === "host" && c.systemRoles.includes("proxy")) {
    // The proxy keeps the trackers of the sessions it forwards to agentless OpenSSH nodes (which run no agent).
    const spec = doc.spec as { host_id?: unknown } | undefined;
    const node = typeof spec?.host_id === "string" ? await ctx.stores.nodes.find(spec.host_id) : undefined;
    if ((node as { sub_kind?: string } | undefined)?.sub_kind !== "openssh") {
      throw accessDenied(`proxy ${c.name} may only write session trackers for agentless OpenSSH nodes`);
    }
    const name = (doc.metadata as { name?: unknown } | undefined)?.name;
    const existing = typeof name === "string" && name !== "" ? await ctx.stores.sessionTrackers.find(name) : undefined;
    if (existing && specOf(existing).host_id !== spec?.host_id) throw accessDenied(`proxy ${c.name} may not move session ${name} to another host`);
    return true;
  }
  for (const v of verbs) requireRule(c, SESSION_TRACKER, v);
  return false;
}
