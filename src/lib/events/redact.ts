import { createHash } from "node:crypto";

/**
 * Keeps secrets out of the audit log. Fields whose names look like passwords,
 * one-time codes, secrets, private keys, cookies or authorization headers are
 * dropped; token values (join tokens are bearer secrets) are replaced by a
 * fingerprint so an operator can still tell which token was used.
 */

const DROP_SEGMENTS = new Set(["password", "passwd", "passphrase", "secret", "otp", "totp", "hotp", "authorization", "cookie", "cookies", "privkey", "apikey"]);

const DROP_PATTERNS = [/(^|_)private_?key($|_)/, /(^|_)priv_key($|_)/, /(^|_)api_key($|_)/, /(^|_)recovery_codes?($|_)/];

const TOKEN_PATTERNS = [/(^|_)tokens?$/, /^token_(name|value|id)$/];

const MAX_DEPTH = 16;

/** "joinToken" / "join-token" / "JOIN_TOKEN" → "join_token". */
function normalizeKey(key: string): string {
  return key
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .replace(/[-.\s]+/g, "_")
    .toLowerCase();
}

export type SecretKeyKind = "drop" | "fingerprint" | undefined;

/** How a field of this name is treated: dropped, fingerprinted, or kept (undefined). */
export function secretKeyKind(key: string): SecretKeyKind {
  const k = normalizeKey(key);
  if (TOKEN_PATTERNS.some((p) => p.test(k))) return "fingerprint";
  if (k.split("_").some((seg) => DROP_SEGMENTS.has(seg))) return "drop";
  if (DROP_PATTERNS.some((p) => p.test(k))) return "drop";
  return undefined;
}

/**
 * A short, non-reversible name for a secret value: "sha256:" and the first 16
 * hex digits (64 bits) of its SHA-256. Token stores can record the same value.
 */
export function secretFingerprint(value: string): string {
  return `sha256:${createHash("sha256").update(value).digest("hex").slice(0, 16)}`;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== "object" || v === null) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function fingerprintValue(v: unknown): unknown {
  if (typeof v === "string") return v === "" ? v : secretFingerprint(v);
  if (Array.isArray(v)) return v.map(fingerprintValue);
  if (v === null || v === undefined || typeof v === "boolean") return v;
  return "[redacted]";
}

function walk(v: unknown, depth: number, seen: WeakSet<object>): unknown {
  if (Array.isArray(v)) {
    if (seen.has(v)) return "[circular]";
    if (depth >= MAX_DEPTH) return "[truncated]";
    seen.add(v);
    const out = v.map((x) => walk(x, depth + 1, seen));
    seen.delete(v);
    return out;
  }
  if (isPlainObject(v)) {
    if (seen.has(v)) return "[circular]";
    if (depth >= MAX_DEPTH) return "[truncated]";
    seen.add(v);
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(v)) {
      if (value === undefined) continue;
      const kind = secretKeyKind(key);
      if (kind === "drop") {
        // A flag such as `password_set: true` says nothing secret.
        if (typeof value === "boolean" || value === null) out[key] = value;
        continue;
      }
      out[key] = kind === "fingerprint" ? fingerprintValue(value) : walk(value, depth + 1, seen);
    }
    seen.delete(v);
    return out;
  }
  return v;
}

/** Returns a copy of `fields` with secret-looking fields removed or fingerprinted, at any depth. */
export function redact<T extends Record<string, unknown>>(fields: T): Record<string, unknown> {
  const out = walk(fields, 0, new WeakSet());
  return isPlainObject(out) ? out : {};
}
