/**
 * `session_tracker` v1: an interactive session that is running now, written
 * by the node that runs it (created at start, refreshed while it runs, marked
 * terminated at the end) and read by `jsh sessions ls` and `jsh join`.
 * `metadata.name` is the session ID; `metadata.expires` is the tracker's TTL,
 * so a tracker whose node died disappears on its own.
 */
import { z } from "zod";
import type { StoredResource } from "../resource.ts";
import { JOIN_MODES } from "./role.ts";
import { metadata, nonEmptyString, oneOf, strict, timestamp } from "./schema.ts";

export const SESSION_KINDS = ["ssh"] as const;
export const SESSION_STATES = ["active", "terminated"] as const;
export type SessionState = (typeof SESSION_STATES)[number];
export type SessionJoinMode = (typeof JOIN_MODES)[number];

/** How long a tracker lives without a refresh, how often the node refreshes it, how long a terminated one stays. */
export const SESSION_TRACKER_TTL_MS = 120_000;
export const SESSION_TRACKER_REFRESH_MS = 30_000;
export const SESSION_TRACKER_TERMINATED_TTL_MS = 60_000;

/** More than this many participants at once is refused by the schema (a tracker stays small). */
const MAX_PARTICIPANTS = 256;

export const sessionParticipant = strict({
  user: nonEmptyString,
  /** The owner is listed first, as a peer. */
  mode: oneOf(JOIN_MODES),
  joined: timestamp,
});

export const sessionTrackerSpec = strict({
  session_id: nonEmptyString,
  kind: oneOf(SESSION_KINDS),
  state: oneOf(SESSION_STATES),
  /** The OS login the owner's session runs as. */
  login: nonEmptyString,
  /** The Jumpgate user who started the session. */
  owner: nonEmptyString,
  /** Who is in the session now (the owner first); joiners who left are removed. */
  participants: z.array(sessionParticipant).max(MAX_PARTICIPANTS, { error: `at most ${MAX_PARTICIPANTS} participants` }),
  /** The node's host UUID (what `jsh join` dials); a node writes only trackers with its own. */
  host_id: nonEmptyString,
  hostname: nonEmptyString,
  created: timestamp,
});

export const sessionTrackerSchema = strict({
  kind: z.literal("session_tracker"),
  version: z.literal("v1"),
  metadata,
  spec: sessionTrackerSpec,
}).superRefine((t, ctx) => {
  if (t.metadata.name !== t.spec.session_id) {
    ctx.addIssue({ code: "custom", path: ["spec", "session_id"], message: "must equal metadata.name" });
  }
  if (t.metadata.expires === undefined) {
    ctx.addIssue({ code: "custom", path: ["metadata", "expires"], message: "required: a session tracker must expire" });
  }
});

export type SessionTracker = z.output<typeof sessionTrackerSchema>;
export type SessionTrackerInput = z.input<typeof sessionTrackerSchema>;
export type SessionTrackerSpec = z.output<typeof sessionTrackerSpec>;
export type SessionParticipant = z.output<typeof sessionParticipant>;

/** The document a node writes for its session (validated again by Auth). */
export function sessionTrackerResource(spec: SessionTrackerSpec, expires: Date): StoredResource & { spec: SessionTrackerSpec } {
  return {
    kind: "session_tracker",
    version: "v1",
    metadata: { name: spec.session_id, expires: expires.toISOString() },
    spec,
  };
}
