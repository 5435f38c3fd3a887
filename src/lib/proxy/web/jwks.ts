/**
 * `GET /.well-known/jwks.json`: the jwt CA's public keys, for apps verifying
 * the `jumpgate-jwt-assertion` header. Fetched from Auth (ExportAuthorities,
 * type jwt) and kept for a minute; public and cacheable for as long.
 */
import type { ServerResponse } from "node:http";
import type { AuthClient } from "../../../api/authclient.ts";
import { type Jwks, jwksOf } from "../../crypto/index.ts";
import type { Route } from "./public-routes.ts";

export const JWKS_PATH = "/.well-known/jwks.json";
export const JWKS_MAX_AGE_S = 60;

export function jwksRoute(auth: AuthClient, now: () => number = Date.now): Route {
  let cached: { body: Buffer; until: number } | undefined;
  let inflight: Promise<Buffer> | undefined;
  const load = async (): Promise<Buffer> => {
    const r = await auth.exportAuthorities({ type: "jwt" });
    // ExportAuthorities carries the jwt CA's public keys (PEM) in tlsCerts.
    const jwks: Jwks = jwksOf(r.tlsCerts);
    const body = Buffer.from(JSON.stringify(jwks));
    cached = { body, until: now() + JWKS_MAX_AGE_S * 1000 };
    return body;
  };
  return async (_req, res) => {
    let body = cached && cached.until > now() ? cached.body : undefined;
    if (!body) {
      inflight ??= load().finally(() => {
        inflight = undefined;
      });
      body = await inflight;
    }
    send(res, body);
  };
}

function send(res: ServerResponse, body: Buffer): void {
  res.writeHead(200, {
    "content-type": "application/json; charset=utf-8",
    "content-length": body.length,
    "cache-control": `public, max-age=${JWKS_MAX_AGE_S}`,
    "x-content-type-options": "nosniff",
  });
  res.end(body);
}
