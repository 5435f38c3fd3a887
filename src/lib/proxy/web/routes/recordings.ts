/** Recordings: the list (from Auth's index) and one recording parsed for the player. */
import type { AuthClient } from "../../../../api/authclient.ts";
import { badParameter } from "../../../../api/errors.ts";
import { SESSION_ID_PATTERN, summary, toJsonEvents } from "../../../events/index.ts";
import type { AuthedRoute } from "../context.ts";
import { sendJson } from "../http.ts";
import { intParam, param, route, timeParam } from "./common.ts";

export interface RecordingItem {
  session_id: string;
  user: string;
  login: string;
  node: string;
  start: string | null;
  /** Null while the session is still going. */
  duration_ms: number | null;
  size: number;
  complete: boolean;
}

async function* chunks(client: AuthClient, sessionId: string): AsyncGenerator<Uint8Array> {
  for await (const c of client.getRecording({ sessionId })) yield c.data;
}

export function recordingRoutes(): AuthedRoute[] {
  return [
    route("GET", /^\/webapi\/recordings$/, async (_req, res, r) => {
      const from = timeParam(r, "from");
      const to = timeParam(r, "to");
      if (from && to && from.getTime() > to.getTime()) throw badParameter(`"from" is after "to"`);
      const limit = intParam(r, "limit", 1, 1000, 100);
      // Auth returns only the recordings the user's `session` rules let him read, newest first.
      const list = await r.user.client.listRecordings({
        from: from?.toISOString() ?? "",
        to: to?.toISOString() ?? "",
        limit,
      });
      const items: RecordingItem[] = list.recordings.map((x) => {
        const s = summary({ sessionId: x.sessionId, metadata: x.metadata ?? {} });
        return {
          session_id: s.sessionId,
          user: s.user,
          login: s.login,
          node: s.node,
          start: s.start && !Number.isNaN(s.start.getTime()) ? s.start.toISOString() : null,
          duration_ms: s.durationMs ?? null,
          size: Number(x.size),
          complete: x.complete,
        };
      });
      sendJson(res, 200, { items });
    }),

    route("GET", /^\/webapi\/recordings\/([^/]+)$/, async (_req, res, r) => {
      const id = param(r, 0);
      if (!SESSION_ID_PATTERN.test(id)) throw badParameter(`"${id}" is not a session ID`);
      // Parsed here rather than in the browser: one parser (the one `jsh play` uses) for every reader.
      sendJson(res, 200, await toJsonEvents(chunks(r.user.client, id)));
    }),
  ];
}
