/** What the data routes share: route building, query parsing, the user's checker. */
import type { ServerResponse } from "node:http";
import type { AuthClient } from "../../../../api/authclient.ts";
import { fromProto, storedFromProto } from "../../../../api/convert.ts";
import { badParameter, isJumpgateError } from "../../../../api/errors.ts";
import type { StoredResource } from "../../../../api/resource.ts";
import { parseResourceOf, type Role } from "../../../../api/resources/index.ts";
import { AccessChecker } from "../../../rbac/index.ts";
import type { AuthedRequest, AuthedRoute, WebRouteDeps } from "../context.ts";

export const route = (method: AuthedRoute["method"], path: RegExp, handler: AuthedRoute["handler"]): AuthedRoute => ({
  method,
  path,
  handler,
});

/** One path segment of a route (`[^/]+`), percent-decoded. */
export function param(r: AuthedRequest, i: number): string {
  const raw = r.params[i] ?? "";
  let v: string;
  try {
    v = decodeURIComponent(raw);
  } catch {
    throw badParameter("the address is not valid (bad percent-encoding)");
  }
  if (v === "") throw badParameter("the address names no resource");
  return v;
}

export function query(r: AuthedRequest, name: string): string {
  return r.url.searchParams.get(name)?.trim() ?? "";
}

/** `a,b, c` → ["a", "b", "c"]. */
export const csv = (v: string): string[] =>
  v
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");

/** An integer query parameter within bounds; `fallback` when absent. */
export function intParam(r: AuthedRequest, name: string, min: number, max: number, fallback: number): number {
  const raw = query(r, name);
  if (raw === "") return fallback;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw badParameter(`"${name}" must be a whole number from ${min} to ${max}, got "${raw}"`);
  }
  return n;
}

/** An ISO 8601 time query parameter; undefined when absent. */
export function timeParam(r: AuthedRequest, name: string): Date | undefined {
  const raw = query(r, name);
  if (raw === "") return undefined;
  const t = Date.parse(raw);
  // Date.parse also takes "5" or "June"; the contract is ISO 8601, so insist on a date.
  if (!/^\d{4}-\d{2}-\d{2}/.test(raw) || Number.isNaN(t)) {
    throw badParameter(`"${name}" must be an ISO 8601 time such as 2026-06-01T12:00:00Z, got "${raw}"`);
  }
  return new Date(t);
}

/** `from`/`to` with a default window ending now; refuses a range that runs backwards. */
export function timeRange(r: AuthedRequest, defaultMs: number): { from: Date; to: Date } {
  const to = timeParam(r, "to") ?? new Date();
  const from = timeParam(r, "from") ?? new Date(to.getTime() - defaultMs);
  if (from.getTime() > to.getTime()) throw badParameter(`"from" (${from.toISOString()}) is after "to" (${to.toISOString()})`);
  return { from, to };
}

export function sendNoContent(res: ServerResponse): void {
  res.writeHead(204, { "cache-control": "no-store", "x-content-type-options": "nosniff" });
  res.end();
}

export async function listStored(client: AuthClient, kind: string): Promise<StoredResource[]> {
  return (await client.listResources({ kind })).resources.map(storedFromProto);
}

/** A list of strings from a JSON body field (absent: empty). */
export function strList(body: Record<string, unknown>, field: string): string[] {
  const v = body[field];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || !v.every((x): x is string => typeof x === "string")) {
    throw badParameter(`field "${field}" must be a list of strings`);
  }
  return v.map((s) => s.trim()).filter((s) => s !== "");
}

export interface UserAccess {
  /** The user's current role names (empty when the user no longer exists). */
  roles: string[];
  checker: AccessChecker;
}

/**
 * The signed-in user's *current* roles and traits as a checker, for the parts
 * of an answer that only describe what the user may do (logins, join modes).
 *
 * Read with the proxy's identity: users usually have no rule to read roles
 * (the `access` preset has none), while the proxy, like every agent, may read
 * them — it is exactly how the SSH node decides `jsh ssh` and `jsh join`
 * (srv/ssh RbacAuthorizer). Nothing is listed or changed on this identity:
 * what the user sees still comes from Auth through `r.user.client`.
 */
export async function userAccess(deps: WebRouteDeps, name: string): Promise<UserAccess> {
  const user = await deps.auth.getResource({ kind: "user", name }).then(
    (u) => fromProto(u) as { spec?: { roles?: string[]; traits?: Record<string, string[]> } },
    (e: unknown) => {
      if (isJumpgateError(e, "not-found")) return undefined;
      throw e;
    },
  );
  const roleNames = user?.spec?.roles ?? [];
  const roles = (await Promise.all(roleNames.map((n) => roleByName(deps.auth, n)))).filter((x): x is Role => x !== undefined);
  return { roles: roleNames, checker: new AccessChecker(roles, user?.spec?.traits ?? {}) };
}

/** A role's definition, parsed (defaults applied) as the checker wants it; undefined when it was deleted. */
async function roleByName(auth: AuthClient, name: string): Promise<Role | undefined> {
  try {
    return parseResourceOf("role", fromProto(await auth.getResource({ kind: "role", name })));
  } catch (e) {
    if (isJumpgateError(e, "not-found")) return undefined;
    throw e;
  }
}

/** Roles of other users (session owners), read the same way and for the same reason as `userAccess`. */
export async function rolesOfUser(deps: WebRouteDeps, name: string): Promise<string[]> {
  try {
    const u = fromProto(await deps.auth.getResource({ kind: "user", name })) as { spec?: { roles?: string[] } };
    return u.spec?.roles ?? [];
  } catch (e) {
    if (isJumpgateError(e, "not-found")) return [];
    throw e;
  }
}
