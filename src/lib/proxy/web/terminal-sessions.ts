/**
 * Session IDs for web terminals, from the session trackers nodes write to
 * Auth (docs/decisions/0004). The node chooses the ID and tells the SSH client
 * nothing, so the proxy finds the tracker of the session it just opened: the
 * user's, on that node, as that login, started since the connection began,
 * and not already claimed by another terminal of this proxy.
 */
import { storedFromProto } from "../../../api/convert.ts";
import { accessDenied, notFound } from "../../../api/errors.ts";
import type { SessionTrackerSpec } from "../../../api/resources/index.ts";
import type { WebUser } from "./context.ts";

const claimed = new Set<string>();
/** Trackers are written as the session starts; wait this long for one. */
const FIND_TIMEOUT_MS = 3_000;
const POLL_MS = 150;
/** Clocks of the proxy and the node may differ a little. */
const CLOCK_SLACK_MS = 2_000;

async function trackers(user: WebUser): Promise<SessionTrackerSpec[]> {
  const list = await user.client.listResources({ kind: "session_tracker" });
  return list.resources.map((r) => storedFromProto(r).spec as SessionTrackerSpec);
}

/** The ID of the session just opened; empty when the node keeps no tracker (agentless OpenSSH nodes). */
export async function findSessionId(user: WebUser, o: { node: string; login: string; since: Date }): Promise<{ id: string; node: string }> {
  const deadline = Date.now() + FIND_TIMEOUT_MS;
  for (;;) {
    const found = (await trackers(user).catch(() => []))
      .filter(
        (t) =>
          t.state === "active" &&
          t.owner === user.user &&
          t.login === o.login &&
          (t.host_id === o.node || t.hostname === o.node) &&
          Date.parse(t.created) >= o.since.getTime() - CLOCK_SLACK_MS &&
          !claimed.has(t.session_id),
      )
      .sort((a, b) => b.created.localeCompare(a.created))[0];
    if (found) {
      claimed.add(found.session_id);
      return { id: found.session_id, node: found.hostname };
    }
    if (Date.now() > deadline) return { id: "", node: o.node };
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

export function releaseSessionId(id: string): void {
  claimed.delete(id);
}

/** Where `jsh join` would go: the session's node, as the owner's login if the user has it, else his first. */
export async function joinTarget(user: WebUser, sessionId: string): Promise<{ host: string; login: string; node: string }> {
  const spec = storedFromProto(await user.client.getResource({ kind: "session_tracker", name: sessionId })).spec as SessionTrackerSpec;
  if (spec.state !== "active") throw notFound(`session ${sessionId} has ended`);
  const logins = user.logins ?? [];
  const login = logins.includes(spec.login) ? spec.login : logins[0];
  if (!login) throw accessDenied("joining a session needs one of your logins on its node, and you have none");
  return { host: spec.host_id, login, node: spec.hostname };
}
