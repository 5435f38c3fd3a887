/**
 * The launch route on the proxy's own host, `GET /web/launch/:name[?path=/x]`:
 * with a web session, Auth opens an app session as the user (it checks the
 * roles and audits a refusal) and the browser goes to the app's host with a
 * one-time launch token; without one, to the sign-in page, which comes back
 * here. A GET that only takes the user to his own app needs no CSRF token.
 */
import type { ServerResponse } from "node:http";
import type { AuthClient } from "../../../api/authclient.ts";
import { httpStatus, isJumpgateError } from "../../../api/errors.ts";
import { sendErrorPage } from "../../httpfwd/index.ts";
import { appAuthUrl, hostOf } from "./hosts.ts";

/** `/web/launch/NAME` (the name as apps are named: a DNS label). */
export const LAUNCH_PATH = /^\/web\/launch\/([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)\/?$/;

export interface LaunchRequest {
  app: string;
  /** `?path=` as given (sanitised here). */
  path: string | null;
  /** This request's path and query, to come back to after signing in. */
  here: string;
  proxyPublicAddr: string;
  /** The signed-in user's own Auth client; undefined without a (live) web session. */
  client: Pick<AuthClient, "createAppSession"> | undefined;
}

const TITLES: Record<string, string> = {
  "access-denied": "Access denied",
  "not-found": "No such app",
  "connection-problem": "App unavailable",
};

export async function launchApp(res: ServerResponse, r: LaunchRequest): Promise<void> {
  if (!r.client) {
    res.writeHead(302, { location: `/web/login?${new URLSearchParams({ next: r.here }).toString()}`, "cache-control": "no-store", "content-length": 0 });
    res.end();
    return;
  }
  try {
    const s = await r.client.createAppSession({ appName: r.app });
    if (hostOf(s.publicAddr) === "" || s.launchToken === "") throw new Error("Auth answered an app session without a public address or launch token");
    const location = appAuthUrl(s.publicAddr, r.proxyPublicAddr, s.launchToken, r.path ?? "/");
    res.writeHead(302, { location, "cache-control": "no-store", "content-length": 0 });
    res.end();
  } catch (e) {
    if (!isJumpgateError(e) || e.kind === "internal") throw e;
    // Auth's message is the one line to show (it audited the refusal itself).
    const status = e.kind === "unauthenticated" ? 401 : httpStatus[e.kind];
    sendErrorPage(res, status, TITLES[e.kind] ?? "Cannot open this app", e.message, { href: "/web/resources", text: "Back to your resources" });
  }
}
