/** Cluster-wide singletons: `cluster_name`, `cluster_auth_preference` and `session_recording_config`. */
import { z } from "zod";
import { bool, count, metadata, nonEmptyString, oneOf, positiveDuration, str, strict } from "./schema.ts";

export const clusterNameSchema = strict({
  kind: z.literal("cluster_name"),
  version: z.literal("v2"),
  metadata,
  spec: strict({ cluster_name: nonEmptyString, cluster_id: nonEmptyString }),
});

export const SECOND_FACTORS = ["off", "otp", "webauthn", "on"] as const;
export type SecondFactor = (typeof SECOND_FACTORS)[number];

export const authPreferenceSpec = strict({
  type: oneOf(["local"]).prefault("local"),
  second_factor: oneOf(SECOND_FACTORS).prefault("otp"),
  webauthn: strict({
    rp_id: nonEmptyString,
    attestation_allowed_cas: z.array(str).optional(),
    attestation_denied_cas: z.array(str).optional(),
  }).optional(),
  connector_name: str.optional(),
  allow_local_auth: bool.optional(),
  require_session_mfa: bool.optional(),
  disconnect_expired_cert: bool.optional(),
  locking_mode: oneOf(["best_effort", "strict"]).optional(),
  /** Jumpgate's own: failed logins before an account is locked, and for how long. */
  lockout: strict({
    max_attempts: count.min(1, { error: "must be at least 1" }).prefault(5),
    lockout_duration: positiveDuration.prefault("20m"),
  }).prefault({}),
});

export const clusterAuthPreferenceSchema = strict({
  kind: z.literal("cluster_auth_preference"),
  version: z.literal("v2"),
  metadata,
  spec: authPreferenceSpec.prefault({}),
});

/**
 * Where interactive SSH sessions are recorded (Teleport's names): `node` (the
 * default: Jumpgate nodes record, the proxy records agentless OpenSSH nodes),
 * `proxy` (the proxy records every session it forwards, nodes record none),
 * `off` (nobody records; audit events are still emitted).
 */
export const SESSION_RECORDING_MODES = ["node", "proxy", "off"] as const;
export type SessionRecordingMode = (typeof SESSION_RECORDING_MODES)[number];

export const sessionRecordingConfigSchema = strict({
  kind: z.literal("session_recording_config"),
  version: z.literal("v2"),
  metadata,
  spec: strict({
    mode: oneOf(SESSION_RECORDING_MODES).prefault("node"),
    /** Accepted for Teleport compatibility; the proxy always checks registered host keys where it has them. */
    proxy_checks_host_keys: bool.optional(),
  }).prefault({}),
});

export type ClusterName = z.output<typeof clusterNameSchema>;
export type ClusterNameInput = z.input<typeof clusterNameSchema>;
export type ClusterAuthPreference = z.output<typeof clusterAuthPreferenceSchema>;
export type ClusterAuthPreferenceInput = z.input<typeof clusterAuthPreferenceSchema>;
export type SessionRecordingConfig = z.output<typeof sessionRecordingConfigSchema>;
