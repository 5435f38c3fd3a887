/**
 * App tokens signed with the cluster's jwt CA (DESIGN §2): what the
 * Application Service puts in `jumpgate-jwt-assertion`, and the JWKS the proxy
 * serves at `/.well-known/jwks.json`. The token format is crypto/jwt's.
 */
import { accessDenied } from "../../api/errors.ts";
import { APP_JWT_TTL_MS, type Jwks, jwksOf, signAppToken } from "../crypto/index.ts";
import type { AuthContext } from "./context.ts";

export interface AppJwtRequest {
  username: string;
  roles: readonly string[];
  traits: Readonly<Record<string, readonly string[]>>;
  /** The app's URI (`aud`). */
  audience: string;
  /** Default 5 minutes, at most that. */
  ttlMs?: number;
}

/** Signs an app token with the active jwt CA key; `iss` is the cluster name. */
export async function signAppJwt(ctx: AuthContext, r: AppJwtRequest): Promise<string> {
  const ca = ctx.authorities.get("jwt");
  if (!ca.jwtSigner) throw accessDenied("this Auth Service cannot sign app tokens");
  return signAppToken({
    key: ca.jwtSigner,
    issuer: ctx.config.clusterName,
    audience: r.audience,
    username: r.username,
    roles: r.roles,
    traits: r.traits,
    ttlMs: Math.min(r.ttlMs ?? APP_JWT_TTL_MS, APP_JWT_TTL_MS),
    clock: ctx.clock,
  });
}

/** The jwt CA's public keys (active and still trusted) as a JWKS document. */
export function jwtCaJwks(ctx: AuthContext): Jwks {
  return jwksOf(ctx.authorities.get("jwt").jwtPublicKeys);
}
