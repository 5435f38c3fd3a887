/**
 * The Auth API's application parts (the pattern of db-handlers.ts):
 * - app_server heartbeats: an Application Service (a host with the `app`
 *   system role) writes (and removes) only the entries named `<app>@<its host id>`.
 * - What users see: app_server entries whose app their roles' app_labels match.
 */
import { accessDenied } from "../../../api/errors.ts";
import { type AppServer, appServerApp, appServerName, isValidAppName } from "../../../api/resources/index.ts";
import type { AccessChecker } from "../../rbac/index.ts";
import type { StoredResource } from "../../services/index.ts";
import { validateResource } from "../validate.ts";
import type { Caller } from "./authz.ts";

export const APP_SERVER = "app_server";

const isAppService = (c: Caller): c is Extract<Caller, { kind: "host" }> => c.kind === "host" && c.systemRoles.includes("app");

/**
 * An Application Service's heartbeat: the entry must be valid and named for
 * this host. Returns true when the write is a heartbeat (quiet, no rule needed).
 */
export function guardAppServerHeartbeat(c: Caller, doc: Record<string, unknown>): boolean {
  if (!isAppService(c)) return false;
  const s = validateResource(doc) as unknown as AppServer;
  if (s.spec.host_id !== c.name) throw accessDenied(`host ${c.name} may only register its own apps (spec.host_id must be ${c.name})`);
  const want = appServerName(s.spec.app.metadata.name, c.name);
  if (s.metadata.name !== want) throw accessDenied(`host ${c.name} may only write app_server "${want}"`);
  return true;
}

/** An Application Service removing one of its own entries (an app dropped from its config). */
export function isOwnAppServerDelete(c: Caller, kind: string, name: string): boolean {
  if (!(kind === APP_SERVER && isAppService(c))) return false;
  const suffix = `@${c.name}`;
  return name.endsWith(suffix) && isValidAppName(name.slice(0, -suffix.length));
}

/** An app_server entry is visible to a user whose roles' app_labels match its app. */
export function canSeeAppServer(checker: AccessChecker, stored: StoredResource): boolean {
  return checker.checkAppAccess({ labels: appServerApp(stored as unknown as AppServer).labels }).allowed;
}

/** Users without a rule on app_server see the entries whose app their roles' app_labels match. */
export function visibleAppServers(checker: AccessChecker, all: StoredResource[]): StoredResource[] {
  return all.filter((s) => canSeeAppServer(checker, s));
}
