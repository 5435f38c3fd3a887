/** `POST /webapi/sessions`, `GET` and `DELETE /webapi/sessions/current` (docs/web-api.md). */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { WebSession } from "../../../api/gen/jumpgate/v1/auth_pb.ts";
import { readJson, sendJson, str } from "./http.ts";
import { clientAddr } from "./public-routes.ts";
import { clearedCookie, readSessionCookie, requireCsrf, sessionCookie, type WebSessions } from "./session.ts";

const SIGN_IN_BODY_BYTES = 4 * 1024;

function summary(s: WebSession) {
  return {
    user: s.user,
    roles: s.roles,
    csrf_token: s.csrfToken,
    expires: s.expires,
    idle_timeout_seconds: Number(s.idleTimeoutSeconds),
  };
}

export async function signIn(sessions: WebSessions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const b = await readJson(req, SIGN_IN_BODY_BYTES);
  const { cookie, session } = await sessions.signIn({
    user: str(b, "user"),
    password: str(b, "password"),
    otp: str(b, "otp", false),
    clientAddr: clientAddr(req),
  });
  res.setHeader("set-cookie", sessionCookie(cookie));
  sendJson(res, 200, summary(session));
}

export async function currentSession(sessions: WebSessions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { session } = await sessions.resolve(readSessionCookie(req));
  sendJson(res, 200, { ...summary(session), cluster_name: session.clusterName, acl: aclOf(session) });
}

export async function signOut(sessions: WebSessions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const cookie = readSessionCookie(req);
  const { session } = await sessions.resolve(cookie);
  requireCsrf(req, session.csrfToken);
  await sessions.signOut(cookie ?? "", clientAddr(req));
  res.writeHead(204, { "set-cookie": clearedCookie(), "cache-control": "no-store" });
  res.end();
}

function aclOf(s: WebSession) {
  const a = s.acl;
  return {
    users: a?.users ?? false,
    roles: a?.roles ?? false,
    tokens: a?.tokens ?? false,
    audit: a?.audit ?? false,
    recordings: a?.recordings ?? false,
    sessions: a?.sessions ?? false,
  };
}
