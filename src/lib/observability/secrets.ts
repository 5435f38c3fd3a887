/** Names of fields whose values must never reach a log line. */
export const SECRET_KEYS = [
  "password",
  "passwd",
  "passphrase",
  "otp",
  "totp",
  "token",
  "tokens",
  "secret",
  "private_key",
  "privateKey",
  "authorization",
  "Authorization",
  "cookie",
  "Cookie",
  "set-cookie",
  "api_key",
  "client_secret",
  "join_token",
  "access_token",
  "refresh_token",
] as const;

const SECRET_SEGMENTS = new Set([
  "password",
  "passwd",
  "passphrase",
  "otp",
  "totp",
  "token",
  "tokens",
  "secret",
  "authorization",
  "cookie",
  "cookies",
  "apikey",
  "privkey",
]);

/** True for "password", "newPassword", "join-token", "X-Api-Key", "private_key"… at any case. */
export function isSecretKey(key: string): boolean {
  const k = key
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .replace(/[-.\s]+/g, "_")
    .toLowerCase();
  if (/(^|_)(private|priv|api|signing)_key($|_)/.test(k)) return true;
  return k.split("_").some((seg) => SECRET_SEGMENTS.has(seg));
}

export const CENSOR = "[REDACTED]";

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== "object" || v === null) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/**
 * A copy of `v` with secret-named fields censored at any depth (up to 8
 * levels); objects without secrets are returned as they are.
 */
export function censorSecrets(v: unknown, depth = 0): unknown {
  if (depth > 8) return v;
  if (Array.isArray(v)) {
    let changed = false;
    const out = v.map((x) => {
      const y = censorSecrets(x, depth + 1);
      if (y !== x) changed = true;
      return y;
    });
    return changed ? out : v;
  }
  if (!isPlainObject(v)) return v;
  let out: Record<string, unknown> | undefined;
  for (const [k, x] of Object.entries(v)) {
    const y = isSecretKey(k) && x !== undefined && x !== null && typeof x !== "boolean" ? CENSOR : censorSecrets(x, depth + 1);
    if (y !== x) {
      out ??= { ...v };
      out[k] = y;
    }
  }
  return out ?? v;
}
