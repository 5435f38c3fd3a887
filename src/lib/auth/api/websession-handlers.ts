/** The web-session RPCs: only the proxy calls them, on behalf of browsers (docs/web-api.md). */
import { create } from "@bufbuild/protobuf";
import {
  type AuthenticateWebSessionRequest,
  type CreateWebSessionRequest,
  type DeleteWebSessionRequest,
  type WebSession,
  WebSessionSchema,
} from "../../../api/gen/jumpgate/v1/auth_pb.ts";
import type { AuthContext } from "../context.ts";
import { authenticateWebSession, createWebSession, deleteWebSession, type WebSessionView } from "../websessions.ts";
import { type Caller, requireProxy } from "./authz.ts";

export async function createWebSessionRpc(ctx: AuthContext, c: Caller, req: CreateWebSessionRequest): Promise<WebSession> {
  requireProxy(c, "sign users in to the web UI");
  const s = await createWebSession(ctx, {
    user: req.user,
    password: req.password,
    otp: req.otp,
    clientAddr: req.clientAddr,
    ...(req.idleTimeoutSeconds > 0n ? { idleTimeoutMs: Number(req.idleTimeoutSeconds) * 1000 } : {}),
  });
  return toProto(s);
}

export async function authenticateWebSessionRpc(ctx: AuthContext, c: Caller, req: AuthenticateWebSessionRequest): Promise<WebSession> {
  requireProxy(c, "resolve web sessions");
  return toProto(await authenticateWebSession(ctx, req.cookie));
}

export async function deleteWebSessionRpc(ctx: AuthContext, c: Caller, req: DeleteWebSessionRequest): Promise<Record<string, never>> {
  requireProxy(c, "end web sessions");
  await deleteWebSession(ctx, req.cookie, req.clientAddr);
  return {};
}

function toProto(s: WebSessionView): WebSession {
  return create(WebSessionSchema, {
    id: s.id,
    cookie: s.cookie ?? "",
    user: s.user,
    roles: s.roles,
    logins: s.logins,
    csrfToken: s.csrfToken,
    expires: s.expires.toISOString(),
    idleExpires: s.idleExpires.toISOString(),
    idleTimeoutSeconds: BigInt(Math.round(s.idleTimeoutMs / 1000)),
    clusterName: s.clusterName,
    sshCert: s.sshCert,
    sshPrivateKey: s.sshPrivateKey,
    tlsCert: s.tlsCert,
    tlsPrivateKey: s.tlsPrivateKey,
    hostCaCerts: s.hostCaCerts,
    acl: s.acl,
  });
}
