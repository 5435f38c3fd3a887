/**
 * Joining a running session (docs/decisions/0004-session-join-protocol.md):
 * the client sets `JUMPGATE_SESSION_JOIN=<session id>` and, optionally,
 * `JUMPGATE_SESSION_MODE=observer|peer` with env requests, then asks for a
 * `shell`. Instead of a program, the channel is attached to the session's
 * PTY, once the joiner's roles allow it (`join_sessions`, against the
 * owner's roles). A refusal is one line on stderr, exit status 1, and a
 * `session.join` audit event with `success: false`.
 */
import type { ServerChannel } from "ssh2";
import type { ConnContext } from "./connection.ts";
import type { JoinerMode } from "./party.ts";
import { finishChannel } from "./spawn.ts";

export const JOIN_ENV = "JUMPGATE_SESSION_JOIN";
export const JOIN_MODE_ENV = "JUMPGATE_SESSION_MODE";
const MAX_VALUE = 256;

export interface JoinRequest {
  sessionId?: string;
  mode?: string;
}

/** Takes the join variables from an env request; false for any other variable. */
export function takeJoinEnv(req: JoinRequest, key: string, value: string): boolean {
  if (key === JOIN_ENV) req.sessionId = value.slice(0, MAX_VALUE).trim();
  else if (key === JOIN_MODE_ENV) req.mode = value.slice(0, MAX_VALUE).trim().toLowerCase();
  else return false;
  return true;
}

/** The mode asked for, or why it cannot be used. */
export function joinMode(req: JoinRequest): { mode: JoinerMode } | { problem: string } {
  const mode = req.mode || "observer";
  if (mode === "observer" || mode === "peer") return { mode };
  if (mode === "moderator") return { problem: "joining as moderator is not supported (there are no moderated sessions); use observer or peer" };
  return { problem: `unknown join mode ${JSON.stringify(mode)}; use observer or peer` };
}

/** Attaches the channel to the session and resolves when the joiner has left or the session has ended. */
export async function runJoin(c: ConnContext, channel: ServerChannel, req: JoinRequest): Promise<void> {
  const sid = req.sessionId ?? "";
  const m = joinMode(req);
  const refuse = async (message: string, mode: string): Promise<void> => {
    c.log.info({ sid, mode, reason: message }, "session join refused");
    c.audit("session.join", { sid, mode, success: false, error: message });
    if (channel.writable) channel.stderr.write(`jumpgate: ${message}\r\n`);
    await finishChannel(channel, { code: 1, signal: null });
  };
  if ("problem" in m) return refuse(m.problem, req.mode ?? "");
  const { mode } = m;
  if (sid === "") return refuse(`${JOIN_ENV} names no session`, mode);
  const party = c.deps.findParty(sid);
  if (!party) return refuse(`session ${sid} is not running on ${c.deps.nodeName}`, mode);
  if (party.owner !== c.user) {
    const d = await c.deps.authorizeJoin({ user: c.user, owner: party.owner, kind: "ssh", mode });
    if (!d.allowed) return refuse(`access denied: you may not join session ${sid} as ${mode} (${d.reason})`, mode);
  }
  const joined = party.join({ user: c.user, mode, channel, touch: () => c.touch() });
  if (!joined) return refuse(`session ${sid} has ended`, mode);
  c.audit("session.join", { sid, mode, owner: party.owner, success: true });
  await joined;
  c.audit("session.leave", { sid, mode, owner: party.owner });
}
