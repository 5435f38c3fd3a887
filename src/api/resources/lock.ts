/** `lock` v2: stops a user, a role or a node at once, whatever certificates exist (Teleport's locks). */
import { z } from "zod";
import { metadata, nonEmptyString, str, strict, timestamp } from "./schema.ts";

export const lockTarget = strict({
  user: nonEmptyString.optional(),
  role: nonEmptyString.optional(),
  node: nonEmptyString.optional(),
}).refine((t) => Object.values(t).filter((v) => v !== undefined).length === 1, {
  error: "name exactly one of user, role or node",
});

export const lockSchema = strict({
  kind: z.literal("lock"),
  version: z.literal("v2"),
  metadata,
  spec: strict({
    target: lockTarget,
    message: str.optional(),
    /** RFC 3339; absent: until removed. */
    expires: timestamp.optional(),
    created_by: str.optional(),
    created_at: timestamp.optional(),
  }),
});

export type Lock = z.output<typeof lockSchema>;
export type LockInput = z.input<typeof lockSchema>;

/** The lock that applies to this user, one of his roles or this node, if any is in force. */
export function findLock(locks: readonly Lock[], who: { user?: string; roles?: readonly string[]; node?: string }, now: Date): Lock | undefined {
  return locks.find((l) => {
    if (l.spec.expires && Date.parse(l.spec.expires) <= now.getTime()) return false;
    const t = l.spec.target;
    return (
      (t.user !== undefined && t.user === who.user) ||
      (t.role !== undefined && (who.roles ?? []).includes(t.role)) ||
      (t.node !== undefined && t.node === who.node)
    );
  });
}

/** One line for the user: what is locked and why. */
export function lockMessage(l: Lock): string {
  const t = l.spec.target;
  const what = t.user ? `user ${t.user}` : t.role ? `role ${t.role}` : `node ${t.node ?? "?"}`;
  return `${what} is locked${l.spec.message ? `: ${l.spec.message}` : ""}`;
}
