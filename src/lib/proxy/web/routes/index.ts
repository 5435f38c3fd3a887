/**
 * The web UI's authenticated data routes (docs/web-api.md: resources, active
 * sessions, recordings, audit log, administration). The session layer mounts
 * them behind the cookie and CSRF checks and turns thrown errors into the JSON
 * error body; every handler acts through `r.user.client`, so Auth applies the
 * signed-in user's roles.
 */
import type { AuthedRoute, WebRouteDeps } from "../context.ts";
import { auditRoutes } from "./audit.ts";
import { recordingRoutes } from "./recordings.ts";
import { resourceRoutes } from "./resources.ts";
import { roleRoutes } from "./roles.ts";
import { sessionRoutes } from "./sessions.ts";
import { tokenRoutes } from "./tokens.ts";
import { userRoutes } from "./users.ts";

export type { ResourceSource, WebResource } from "./resources.ts";
export { errorPosition, YamlProblem } from "./yaml-errors.ts";

export function dataRoutes(deps: WebRouteDeps): AuthedRoute[] {
  return [...resourceRoutes(deps), ...sessionRoutes(deps), ...recordingRoutes(), ...auditRoutes(), ...userRoutes(), ...roleRoutes(), ...tokenRoutes(deps)];
}
