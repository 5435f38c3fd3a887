import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import type { AuthClient } from "../../../api/authclient.ts";

/**
 * A signed-in web user, as the session layer resolved it from the cookie.
 * `client` calls the Auth API *as this user* (with the web session's
 * certificate), so Auth applies the user's roles: routes never re-implement
 * RBAC, they forward the user's request and shape the answer.
 */
export interface WebUser {
  user: string;
  roles: string[];
  /** SSH logins the user's roles allow (for choosing a login when joining a session). */
  logins?: string[];
  sessionId: string;
  /** Auth API client holding the web session's X.509 identity. */
  client: AuthClient;
  /** The web session's SSH certificate and key (OpenSSH formats), for terminals. */
  ssh: { cert: string; privateKey: string };
}

export interface WebRouteDeps {
  /** Auth API client with the proxy's own identity (anonymous flows, invites). */
  auth: AuthClient;
  log: Logger;
  /** host:port users reach the proxy at. */
  publicAddr: string;
}

export interface AuthedRequest {
  user: WebUser;
  /** Capture groups of the route's path pattern. */
  params: string[];
  url: URL;
}

/**
 * A route that needs a web session. The session layer authenticates the
 * cookie, enforces the CSRF header on state-changing methods, and turns thrown
 * errors into the JSON error body; the handler only does its job.
 */
export interface AuthedRoute {
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  path: RegExp;
  handler: (req: IncomingMessage, res: ServerResponse, r: AuthedRequest) => Promise<void>;
}
