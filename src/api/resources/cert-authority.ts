/**
 * `cert_authority` v2: one of the cluster's four CAs. Private parts are present
 * only inside the auth service; `withoutSecrets` strips them before a CA leaves it.
 */
import { z } from "zod";
import { metadata, nonEmptyString, oneOf, str, strict, timestamp } from "./schema.ts";

export const CA_TYPES = ["user", "host", "db", "jwt"] as const;
export type CaType = (typeof CA_TYPES)[number];

const sshKeyPair = strict({ public_key: nonEmptyString, private_key: nonEmptyString.optional() });
const tlsKeyPair = strict({ cert: nonEmptyString, key: nonEmptyString.optional() });
const jwtKeyPair = strict({ public_key: nonEmptyString, private_key: nonEmptyString.optional() });

export const caKeySet = strict({
  ssh: z.array(sshKeyPair).optional(),
  tls: z.array(tlsKeyPair).optional(),
  jwt: z.array(jwtKeyPair).optional(),
});

const rotation = strict({
  state: oneOf(["standby", "in_progress"]),
  phase: oneOf(["standby", "init", "update_clients", "update_servers", "rollback"]).optional(),
  current_id: str.optional(),
  started: timestamp.optional(),
  grace_period: str.optional(),
  last_rotated: timestamp.optional(),
});

export const certAuthoritySpec = strict({
  type: oneOf(CA_TYPES),
  cluster_name: nonEmptyString,
  active_keys: caKeySet.prefault({}),
  additional_trusted_keys: caKeySet.prefault({}),
  rotation: rotation.optional(),
  signing_alg: str.optional(),
});

export const certAuthoritySchema = strict({
  kind: z.literal("cert_authority"),
  version: z.literal("v2"),
  sub_kind: str.optional(),
  metadata,
  spec: certAuthoritySpec,
});

export type CertAuthority = z.output<typeof certAuthoritySchema>;
export type CertAuthorityInput = z.input<typeof certAuthoritySchema>;
export type CaKeySet = z.output<typeof caKeySet>;

/** A copy with every private key removed, safe to return to clients. */
export function withoutSecrets(ca: CertAuthority): CertAuthority {
  const strip = (keys: CaKeySet): CaKeySet => {
    const out: CaKeySet = {};
    if (keys.ssh !== undefined) out.ssh = keys.ssh.map(({ public_key }) => ({ public_key }));
    if (keys.tls !== undefined) out.tls = keys.tls.map(({ cert }) => ({ cert }));
    if (keys.jwt !== undefined) out.jwt = keys.jwt.map(({ public_key }) => ({ public_key }));
    return out;
  };
  return {
    ...ca,
    metadata: structuredClone(ca.metadata),
    spec: {
      ...structuredClone(ca.spec),
      active_keys: strip(ca.spec.active_keys),
      additional_trusted_keys: strip(ca.spec.additional_trusted_keys),
    },
  };
}
