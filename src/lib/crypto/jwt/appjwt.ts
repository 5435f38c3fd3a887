/**
 * App JWTs (DESIGN §2, jwt CA): the `jumpgate-jwt-assertion` header an app
 * receives with every request, signed by the cluster's jwt CA, and the JWKS
 * document of the CA's public keys that apps verify it with.
 *
 * Token: header `{alg: "ES256" | "EdDSA", typ: "JWT", kid}` where kid is the
 * RFC 7638 thumbprint of the signing key; claims `{iss: cluster name, aud:
 * [app URI], sub: username, username, roles, traits, iat, nbf, exp}`.
 *
 * Keys never go through a JWK export (Node 20 can deadlock there): public
 * keys become JWKs from their raw bytes, private keys become WebCrypto keys
 * from PKCS8.
 */
import { createHash, createPublicKey, type KeyObject, webcrypto } from "node:crypto";
import { createLocalJWKSet, jwtVerify, SignJWT } from "jose";
import { type Clock, systemClock } from "../../../api/clock.ts";
import { badParameter, unauthenticated } from "../../../api/errors.ts";
import { rawPublicKey, SSH_ED25519, sshKeyAlgorithm } from "../keys.ts";

/** The request header apps read the token from. */
export const APP_JWT_HEADER = "jumpgate-jwt-assertion";
/** Default lifetime of an app token. */
export const APP_JWT_TTL_MS = 5 * 60_000;
/** Tokens are valid from this long before their issue time (clock skew between proxy and app). */
const NOT_BEFORE_SKEW_S = 60;

export type JwtAlgorithm = "ES256" | "EdDSA";

export type Jwk =
  | { kty: "EC"; crv: "P-256"; x: string; y: string; use: "sig"; alg: "ES256"; kid: string }
  | { kty: "OKP"; crv: "Ed25519"; x: string; use: "sig"; alg: "EdDSA"; kid: string };

export interface Jwks {
  keys: Jwk[];
}

const b64u = (b: Buffer) => b.toString("base64url");

function asPublicKey(key: KeyObject | string): KeyObject {
  if (typeof key === "string") {
    try {
      return createPublicKey(key);
    } catch {
      throw badParameter("not a PEM public key");
    }
  }
  return key.type === "public" ? key : createPublicKey(key);
}

export function jwtAlgorithm(key: KeyObject): JwtAlgorithm {
  return sshKeyAlgorithm(key) === SSH_ED25519 ? "EdDSA" : "ES256";
}

/** The RFC 7638 thumbprint (SHA-256, base64url) of a public key: the `kid` of tokens it signs. */
export function jwkThumbprint(key: KeyObject | string): string {
  const k = asPublicKey(key);
  const raw = rawPublicKey(k);
  // Members in lexicographic order, no whitespace (RFC 7638 §3).
  const canonical =
    jwtAlgorithm(k) === "EdDSA"
      ? `{"crv":"Ed25519","kty":"OKP","x":"${b64u(raw)}"}`
      : `{"crv":"P-256","kty":"EC","x":"${b64u(raw.subarray(1, 33))}","y":"${b64u(raw.subarray(33, 65))}"}`;
  return b64u(createHash("sha256").update(canonical).digest());
}

/** The JWK of a public key (PEM SPKI or KeyObject), with `use`, `alg` and `kid`. */
export function jwkOf(key: KeyObject | string): Jwk {
  const k = asPublicKey(key);
  const raw = rawPublicKey(k);
  const kid = jwkThumbprint(k);
  if (jwtAlgorithm(k) === "EdDSA") return { kty: "OKP", crv: "Ed25519", x: b64u(raw), use: "sig", alg: "EdDSA", kid };
  return { kty: "EC", crv: "P-256", x: b64u(raw.subarray(1, 33)), y: b64u(raw.subarray(33, 65)), use: "sig", alg: "ES256", kid };
}

/** The JWKS document of the jwt CA's public keys (active and still trusted), duplicates removed. */
export function jwksOf(publicKeys: readonly (KeyObject | string)[]): Jwks {
  const keys = new Map<string, Jwk>();
  for (const k of publicKeys) {
    const jwk = jwkOf(k);
    keys.set(jwk.kid, jwk);
  }
  return { keys: [...keys.values()] };
}

const signingKeys = new WeakMap<KeyObject, Promise<webcrypto.CryptoKey>>();

function signingKey(key: KeyObject): Promise<webcrypto.CryptoKey> {
  let k = signingKeys.get(key);
  if (!k) {
    const der = key.export({ format: "der", type: "pkcs8" });
    const alg = jwtAlgorithm(key) === "EdDSA" ? { name: "Ed25519" } : { name: "ECDSA", namedCurve: "P-256" };
    k = webcrypto.subtle.importKey("pkcs8", der, alg, false, ["sign"]);
    signingKeys.set(key, k);
  }
  return k;
}

export interface AppTokenRequest {
  /** The jwt CA's private signing key. */
  key: KeyObject;
  /** Cluster name: `iss`. */
  issuer: string;
  /** The app's URI: `aud`. */
  audience: string;
  username: string;
  roles: readonly string[];
  traits: Readonly<Record<string, readonly string[]>>;
  /** Lifetime; default 5 minutes. */
  ttlMs?: number;
  clock?: Clock;
}

export interface AppTokenClaims {
  iss: string;
  aud: string[];
  sub: string;
  username: string;
  roles: string[];
  traits: Record<string, string[]>;
  iat: number;
  nbf: number;
  exp: number;
}

/** Signs an app token. Sign once per app session and audience and reuse it: signing costs ~0.1 ms. */
export async function signAppToken(r: AppTokenRequest): Promise<string> {
  if (r.key.type !== "private") throw badParameter("an app token is signed with the jwt CA's private key");
  const now = Math.floor((r.clock ?? systemClock).now().getTime() / 1000);
  const ttl = Math.max(1, Math.round((r.ttlMs ?? APP_JWT_TTL_MS) / 1000));
  const traits: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(r.traits)) traits[k] = [...v];
  return new SignJWT({ username: r.username, roles: [...r.roles], traits })
    .setProtectedHeader({ alg: jwtAlgorithm(r.key), typ: "JWT", kid: jwkThumbprint(r.key) })
    .setIssuer(r.issuer)
    .setAudience([r.audience])
    .setSubject(r.username)
    .setIssuedAt(now)
    .setNotBefore(now - NOT_BEFORE_SKEW_S)
    .setExpirationTime(now + ttl)
    .sign(await signingKey(r.key));
}

export interface VerifyAppTokenOptions {
  /** The app's URI, as the token's `aud` must name it. */
  audience: string;
  /** The cluster name. */
  issuer: string;
  clock?: Clock;
}

/** Verifies an app token against a JWKS (what an app does with `/.well-known/jwks.json`). */
export async function verifyAppToken(token: string, jwks: Jwks, o: VerifyAppTokenOptions): Promise<AppTokenClaims> {
  try {
    const { payload } = await jwtVerify(token, createLocalJWKSet(jwks), {
      issuer: o.issuer,
      audience: o.audience,
      algorithms: ["ES256", "EdDSA"],
      currentDate: (o.clock ?? systemClock).now(),
      requiredClaims: ["exp", "iat", "sub"],
    });
    const p = payload as Partial<AppTokenClaims>;
    if (typeof p.username !== "string" || !Array.isArray(p.roles) || typeof p.traits !== "object" || p.traits === null) {
      throw new Error("missing username, roles or traits");
    }
    return p as AppTokenClaims;
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw unauthenticated(`invalid app token: ${why}`);
  }
}
