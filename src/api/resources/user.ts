/**
 * `user` v2. Secrets (password hash, TOTP, WebAuthn) are not part of this
 * resource: the auth service stores them separately and never returns them.
 */
import { z } from "zod";
import { bool, metadata, nonEmptyString, resourceName, str, strict, stringList, timestamp } from "./schema.ts";

/** Traits: logins, db_users, kubernetes_groups... and anything an identity provider sends. */
export const traits = z.record(
  str.refine((k) => k !== "__proto__", { error: "reserved trait name" }),
  stringList,
  { error: (iss) => (iss.input === undefined ? "required" : "expected a map of string lists") },
);

const connectorIdentity = strict({ connector_id: nonEmptyString, username: nonEmptyString });

/** Server-managed: ignored when a client writes it. */
const userStatus = strict({
  is_locked: bool.optional(),
  locked_message: str.optional(),
  lock_expires: timestamp.optional(),
  locked_time: timestamp.optional(),
  recovery_attempt_lock_expires: timestamp.optional(),
  /** Set by Auth on reads: the user has not completed his invitation yet. */
  invite_pending: bool.optional(),
});

const createdBy = strict({
  time: timestamp.optional(),
  user: strict({ name: str }).optional(),
  connector: strict({ type: str, id: str, identity: str.optional() }).optional(),
});

export const userSpec = strict({
  roles: z.array(resourceName, { error: (iss) => (iss.input === undefined ? "required" : "expected a list of role names") }).prefault([]),
  traits: traits.prefault({}),
  oidc_identities: z.array(connectorIdentity).optional(),
  saml_identities: z.array(connectorIdentity).optional(),
  github_identities: z.array(connectorIdentity).optional(),
  status: userStatus.optional(),
  created_by: createdBy.optional(),
  expires: timestamp.optional(),
  trusted_device_ids: stringList.optional(),
});

export const userSchema = strict({
  kind: z.literal("user"),
  version: z.literal("v2"),
  sub_kind: str.optional(),
  metadata,
  spec: userSpec.prefault({}),
});

export type User = z.output<typeof userSchema>;
export type UserInput = z.input<typeof userSchema>;
export type Traits = z.output<typeof traits>;
