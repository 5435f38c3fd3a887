/** `GET /webapi/sessions/active`: running sessions the user may see, with the ways he may join each. */
import type { SessionTrackerSpec } from "../../../../api/resources/index.ts";
import type { AuthedRoute, WebRouteDeps } from "../context.ts";
import { sendJson } from "../http.ts";
import { listStored, rolesOfUser, route, userAccess } from "./common.ts";

/** The modes the node's join protocol offers (`jsh join`, the web join socket); `moderator` is not one yet. */
const JOIN_MODES = ["observer", "peer"] as const;

export interface ActiveSession {
  id: string;
  kind: string;
  node: string;
  host_id: string;
  login: string;
  user: string;
  created: string;
  participants: Array<{ user: string; mode: string }>;
  /** Modes the caller's `join_sessions` allow on this session (empty: cannot join). */
  join_modes: string[];
}

export function sessionRoutes(deps: WebRouteDeps): AuthedRoute[] {
  return [
    route("GET", /^\/webapi\/sessions\/active$/, async (_req, res, r) => {
      // Auth shows the trackers the user owns, takes part in or could join (or all, with a rule).
      const [trackers, access] = await Promise.all([listStored(r.user.client, "session_tracker"), userAccess(deps, r.user.user)]);
      const owners = new Map<string, Promise<string[]>>();
      const ownerRoles = (name: string) => {
        let p = owners.get(name);
        if (!p) {
          p = rolesOfUser(deps, name);
          owners.set(name, p);
        }
        return p;
      };
      const items: ActiveSession[] = [];
      for (const t of trackers) {
        const spec = t.spec as SessionTrackerSpec;
        if (spec.state !== "active") continue;
        // The node lets the owner back into his own session in any mode (srv/ssh join); others by policy
        // against the owner's current roles, as the node's authorizeJoin decides.
        const hostRoles = spec.owner === r.user.user ? [] : await ownerRoles(spec.owner);
        const join_modes =
          spec.owner === r.user.user
            ? [...JOIN_MODES]
            : JOIN_MODES.filter((mode) => access.checker.canJoinSession({ kind: spec.kind, hostRoles }, mode).allowed);
        items.push({
          id: spec.session_id,
          kind: spec.kind,
          node: spec.hostname,
          host_id: spec.host_id,
          login: spec.login,
          user: spec.owner,
          created: spec.created,
          participants: spec.participants.map((p) => ({ user: p.user, mode: p.mode })),
          join_modes,
        });
      }
      items.sort((a, b) => a.created.localeCompare(b.created));
      sendJson(res, 200, { items });
    }),
  ];
}
