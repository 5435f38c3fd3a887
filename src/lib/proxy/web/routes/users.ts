/**
 * Users: list with status, invite, reset, delete. Each call goes through the
 * user's client, so Auth applies the `user` rules and refuses to let anyone
 * hand out roles he could not grant himself.
 */

import type { AuthClient } from "../../../../api/authclient.ts";
import { badParameter, isJumpgateError } from "../../../../api/errors.ts";
import type { StoredResource } from "../../../../api/resource.ts";
import { findLock, type Lock } from "../../../../api/resources/index.ts";
import type { AuthedRoute } from "../context.ts";
import { readJson, sendJson, str } from "../http.ts";
import { listStored, param, route, sendNoContent, strList } from "./common.ts";

export type UserStatus = "active" | "invited" | "locked";

export interface WebUserItem {
  name: string;
  roles: string[];
  traits: Record<string, string[]>;
  created: string | null;
  status: UserStatus;
  locked_until: string | null;
}

/**
 * Server-managed `spec.status` of a user as Auth returns it. `is_locked` and
 * `lock_expires` are the login lockout (Teleport's names); `invite_pending`
 * says the user has not yet set a password from an invitation or reset.
 */
interface UserSpec {
  roles?: string[];
  traits?: Record<string, string[]>;
  created_by?: { time?: string };
  status?: { is_locked?: boolean; lock_expires?: string; invite_pending?: boolean };
}

/**
 * Locked wins over invited: a lock (resource on the user or one of his roles,
 * or the login lockout) stops him whatever else is true.
 */
export function userItem(u: StoredResource, locks: readonly Lock[], now: Date): WebUserItem {
  const spec = (u.spec ?? {}) as UserSpec;
  const name = u.metadata.name;
  const roles = spec.roles ?? [];
  const base = { name, roles, traits: spec.traits ?? {}, created: spec.created_by?.time ?? null };
  const lock = findLock(locks, { user: name, roles }, now);
  if (lock) return { ...base, status: "locked", locked_until: lock.spec.expires ?? null };
  const st = spec.status;
  if (st?.is_locked && (st.lock_expires === undefined || Date.parse(st.lock_expires) > now.getTime())) {
    return { ...base, status: "locked", locked_until: st.lock_expires ?? null };
  }
  return { ...base, status: st?.invite_pending ? "invited" : "active", locked_until: null };
}

/** Lock resources, when the caller may list them; without that rule the lockout status alone is shown. */
async function locksVisibleTo(client: AuthClient): Promise<Lock[]> {
  try {
    return (await listStored(client, "lock")) as unknown as Lock[];
  } catch (e) {
    if (isJumpgateError(e, "access-denied")) return [];
    throw e;
  }
}

/** `{"logins": ["alice"]}`: a map of string lists. */
function traitsOf(body: Record<string, unknown>): Record<string, { values: string[] }> {
  const v = body.traits;
  if (v === undefined || v === null) return {};
  if (typeof v !== "object" || Array.isArray(v)) throw badParameter(`field "traits" must be a map of string lists`);
  const out: Record<string, { values: string[] }> = {};
  for (const [k, list] of Object.entries(v)) {
    if (!Array.isArray(list) || !list.every((x): x is string => typeof x === "string")) {
      throw badParameter(`trait "${k}" must be a list of strings`);
    }
    out[k] = { values: list };
  }
  return out;
}

const inviteBody = (r: { user?: { metadata?: { name: string } }; inviteUrl: string; expires: string }, name: string) => ({
  name: r.user?.metadata?.name ?? name,
  invite_url: r.inviteUrl,
  expires: r.expires,
});

export function userRoutes(): AuthedRoute[] {
  return [
    route("GET", /^\/webapi\/users$/, async (_req, res, r) => {
      const [users, locks] = await Promise.all([listStored(r.user.client, "user"), locksVisibleTo(r.user.client)]);
      const now = new Date();
      const items = users.map((u) => userItem(u, locks, now)).sort((a, b) => a.name.localeCompare(b.name));
      sendJson(res, 200, { items });
    }),

    route("POST", /^\/webapi\/users$/, async (req, res, r) => {
      const body = await readJson(req);
      const name = str(body, "name").trim();
      const roles = strList(body, "roles");
      if (roles.length === 0) throw badParameter("give the user at least one role");
      const created = await r.user.client.createUser({ name, roles, traits: traitsOf(body) });
      sendJson(res, 200, inviteBody(created, name));
    }),

    route("POST", /^\/webapi\/users\/([^/]+)\/reset$/, async (_req, res, r) => {
      const name = param(r, 0);
      sendJson(res, 200, inviteBody(await r.user.client.resetUser({ name }), name));
    }),

    route("DELETE", /^\/webapi\/users\/([^/]+)$/, async (_req, res, r) => {
      const name = param(r, 0);
      if (name === r.user.user) throw badParameter("you cannot delete the user you are signed in as");
      await r.user.client.deleteResource({ kind: "user", name });
      sendNoContent(res);
    }),
  ];
}
