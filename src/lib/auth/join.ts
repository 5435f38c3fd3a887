import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { accessDenied, badParameter, isJumpgateError } from "../../api/errors.ts";
import type { StoredResource } from "../services/index.ts";
import { type HostCertRequest, type IssuedCerts, issueHostCerts } from "./certs.ts";
import type { AuthContext } from "./context.ts";
import { validateResource } from "./validate.ts";

export const JOIN_ROLES = ["node", "proxy", "db", "app", "kube", "desktop", "bot"] as const;
export const DEFAULT_TOKEN_TTL_MS = 30 * 60_000;
export const MAX_TOKEN_TTL_MS = 30 * 24 * 3600_000;

export interface TokenResource extends StoredResource {
  kind: "token";
  spec: { roles: string[]; join_method: "token"; single_use?: boolean; bot_name?: string };
}

/** Tokens are secrets: logs and audit see only a short hash. */
export function tokenRef(token: string): string {
  return createHash("sha256").update(token).digest("hex").slice(0, 12);
}

export async function createToken(
  ctx: AuthContext,
  req: { roles: string[]; ttlMs?: number; name?: string; singleUse?: boolean; actor: string },
): Promise<TokenResource> {
  if (req.roles.length === 0) throw badParameter("a token needs at least one role (--type)");
  for (const r of req.roles) {
    if (!(JOIN_ROLES as readonly string[]).includes(r)) {
      throw badParameter(`unknown token type "${r}"; use one of ${JOIN_ROLES.join(", ")}`);
    }
  }
  const ttl = req.ttlMs ?? DEFAULT_TOKEN_TTL_MS;
  if (ttl <= 0 || ttl > MAX_TOKEN_TTL_MS) throw badParameter("token TTL must be between 1s and 720h");
  const name = req.name ?? randomBytes(16).toString("hex");
  if (!/^[A-Za-z0-9._-]{8,128}$/.test(name)) {
    throw badParameter("a token value must be 8 to 128 letters, digits, '.', '_' or '-'");
  }
  const spec: TokenResource["spec"] = { roles: req.roles, join_method: "token" };
  if (req.singleUse) spec.single_use = true;
  const doc = validateResource({
    kind: "token",
    version: "v2",
    metadata: { name, expires: new Date(ctx.clock.now().getTime() + ttl).toISOString() },
    spec,
  }) as TokenResource;
  const saved = (await ctx.stores.tokens.create(doc)) as TokenResource;
  await ctx.audit.emit({ event: "token.create", user: req.actor, roles: req.roles, token: tokenRef(name) });
  return saved;
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Finds the roles a token grants, consuming it when it is single-use. */
async function redeem(ctx: AuthContext, token: string): Promise<string[]> {
  const expiredOrUnknown = "the join token is invalid or has expired; ask an administrator for a new one";
  for (const st of ctx.config.staticTokens) {
    if (sameSecret(st.token, token)) return st.roles;
  }
  if (!/^[A-Za-z0-9._-]{8,128}$/.test(token)) throw accessDenied(expiredOrUnknown, "malformed token");
  const t = (await ctx.stores.tokens.find(token)) as TokenResource | undefined;
  if (!t) throw accessDenied(expiredOrUnknown, "token not found");
  if (t.metadata.expires && new Date(t.metadata.expires) <= ctx.clock.now()) {
    throw accessDenied(expiredOrUnknown, "token expired");
  }
  if (t.spec.single_use) {
    try {
      await ctx.stores.tokens.delete(token);
    } catch (e) {
      if (isJumpgateError(e, "not-found")) throw accessDenied(expiredOrUnknown, "single-use token already used");
      throw e;
    }
  }
  return t.spec.roles;
}

export interface RegisterRequest extends Omit<HostCertRequest, "ttlMs"> {
  token: string;
  remoteAddr?: string;
}

export async function registerUsingToken(ctx: AuthContext, req: RegisterRequest): Promise<IssuedCerts> {
  try {
    if (!/^[A-Za-z0-9._-]{1,128}$/.test(req.hostId)) throw badParameter("host ID is not valid");
    const roles = await redeem(ctx, req.token);
    if (!roles.includes(req.role)) {
      throw accessDenied(`the join token does not allow the "${req.role}" role (it allows ${roles.join(", ")})`);
    }
    const certs = await issueHostCerts(ctx, req);
    await ctx.audit.emit({
      event: "join",
      success: true,
      host_id: req.hostId,
      node_name: req.nodeName,
      role: req.role,
      token: tokenRef(req.token),
      addr_remote: req.remoteAddr,
    });
    return certs;
  } catch (e) {
    await ctx.audit.emit({
      event: "join",
      success: false,
      host_id: req.hostId,
      node_name: req.nodeName,
      role: req.role,
      token: tokenRef(req.token),
      addr_remote: req.remoteAddr,
      error: isJumpgateError(e) ? (e.detail ?? e.message) : "internal error",
    });
    throw e;
  }
}
