/**
 * The application RPCs (docs/app-access.md): app sessions for browsers (opened
 * by the proxy acting as the user, resolved by the proxy alone) and the signed
 * identity token the Application Service puts on each request.
 */
import { create } from "@bufbuild/protobuf";
import { accessDenied, badParameter } from "../../../api/errors.ts";
import {
  type AppSession,
  AppSessionSchema,
  type AuthenticateAppSessionRequest,
  type CreateAppSessionRequest,
  type DeleteAppSessionRequest,
  type GenerateAppTokenRequest,
  type GenerateAppTokenResponse,
  GenerateAppTokenResponseSchema,
} from "../../../api/gen/jumpgate/v1/auth_pb.ts";
import { APP_JWT_TTL_MS } from "../../crypto/index.ts";
import { signAppJwt } from "../appjwt.ts";
import { type AppSessionView, authenticateAppSession, createAppSession, deleteAppSession, exchangeAppLaunch } from "../apps.ts";
import type { AuthContext } from "../context.ts";
import { type Caller, requireAuthenticated, requireProxy } from "./authz.ts";
import { traitsFromProto } from "./handler-helpers.ts";

export async function createAppSessionRpc(ctx: AuthContext, c: Caller, req: CreateAppSessionRequest): Promise<AppSession> {
  requireAuthenticated(c);
  if (c.kind !== "user") throw accessDenied("only a signed-in user may open an app session");
  const s = await createAppSession(ctx, { user: c.user, checker: c.checker, appName: req.appName, notAfter: c.identity.expires, clientAddr: c.addr });
  // The certificate stays in Auth until the proxy exchanges the launch token.
  return toProto({ ...s, tlsCert: "" });
}

export async function authenticateAppSessionRpc(ctx: AuthContext, c: Caller, req: AuthenticateAppSessionRequest): Promise<AppSession> {
  requireProxy(c, "resolve app sessions");
  if ((req.cookie === "") === (req.launchToken === "")) throw badParameter("send either an app-session cookie or a launch token");
  return toProto(req.launchToken ? await exchangeAppLaunch(ctx, req.launchToken) : await authenticateAppSession(ctx, req.cookie));
}

export async function deleteAppSessionRpc(ctx: AuthContext, c: Caller, req: DeleteAppSessionRequest): Promise<Record<string, never>> {
  requireProxy(c, "end app sessions");
  await deleteAppSession(ctx, req.cookie);
  return {};
}

export async function generateAppTokenRpc(ctx: AuthContext, c: Caller, req: GenerateAppTokenRequest): Promise<GenerateAppTokenResponse> {
  requireAuthenticated(c);
  if (!(c.kind === "host" && c.systemRoles.includes("app"))) throw accessDenied("only an Application Service may ask for app tokens");
  if (!req.username) throw badParameter("name the user the token is for");
  if (!req.uri) throw badParameter("name the app's URI (the token's audience)");
  const ttlMs = req.ttlSeconds > 0n ? Math.min(Number(req.ttlSeconds) * 1000, APP_JWT_TTL_MS) : APP_JWT_TTL_MS;
  const token = await signAppJwt(ctx, { username: req.username, roles: req.roles, traits: traitsFromProto(req.traits), audience: req.uri, ttlMs });
  return create(GenerateAppTokenResponseSchema, { token, expires: new Date(ctx.clock.now().getTime() + ttlMs).toISOString() });
}

function toProto(s: AppSessionView): AppSession {
  return create(AppSessionSchema, {
    id: s.id,
    cookie: s.cookie ?? "",
    launchToken: s.launchToken ?? "",
    user: s.user,
    appName: s.appName,
    publicAddr: s.publicAddr,
    appUri: s.appUri,
    expires: s.expires.toISOString(),
    tlsCert: s.tlsCert,
  });
}
