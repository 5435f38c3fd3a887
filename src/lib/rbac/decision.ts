/** The answer of every access check: allowed, or refused with one line for people. */
export type Decision = { readonly allowed: true } | Denied;
export type Denied = { readonly allowed: false; readonly reason: string };

export const ALLOW: Decision = Object.freeze({ allowed: true });

export function deny(reason: string): Denied {
  return { allowed: false, reason };
}

/** User traits: logins, db_users, kubernetes_groups... and what identity providers send. */
export type Traits = Readonly<Record<string, readonly string[]>>;

/** Labels of a resource being accessed (static labels plus command-label results). */
export type Labels = Readonly<Record<string, string>>;

/** A label selector as written in a role: per key one value or a list. */
export type LabelSelectorInput = Readonly<Record<string, string | readonly string[]>>;
