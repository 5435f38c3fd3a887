/** Small pieces the Auth API handlers share: conversions and the escalation guards. */
import { create } from "@bufbuild/protobuf";
import { accessDenied, isJumpgateError } from "../../../api/errors.ts";
import { type Certs, CertsSchema } from "../../../api/gen/jumpgate/v1/auth_pb.ts";
import { type Node, nodeLabels, type Role } from "../../../api/resources/index.ts";
import { type AccessChecker, checkCanGrant } from "../../rbac/index.ts";
import type { StoredResource } from "../../services/index.ts";
import type { IssuedCerts } from "../certs.ts";
import type { AuthServer } from "../server.ts";
import { validateResource } from "../validate.ts";
import type { Caller } from "./authz.ts";

/** A node is visible to a user who may log in to it with at least one of his logins. */
export function canSeeNode(checker: AccessChecker, node: StoredResource): boolean {
  const labels = nodeLabels(node as unknown as Node);
  return checker.sshLogins().some((login) => checker.checkNodeAccess({ labels }, login).allowed);
}

/** Login and join write their own audit events with the precise reason. */
export function isAudited(e: unknown): boolean {
  return isJumpgateError(e, "access-denied") && e.detail !== undefined;
}

export function certsToProto(c: IssuedCerts): Certs {
  return create(CertsSchema, {
    sshCert: c.sshCert,
    tlsCert: c.tlsCert,
    tlsCaCerts: c.tlsCaCerts,
    hostCaCerts: c.hostCaCerts,
    sshCaKeys: c.sshCaKeys,
    clusterName: c.clusterName,
    username: c.username,
    roles: c.roles,
    logins: c.logins,
    expires: c.expires.toISOString(),
    hostId: c.hostId ?? "",
  });
}

export const traitsFromProto = (t: Record<string, { values: string[] }>) => Object.fromEntries(Object.entries(t).map(([k, v]) => [k, v.values]));

export const ttlMs = (seconds: bigint) => (seconds > 0n ? Number(seconds) * 1000 : undefined);

/** A role or user write must not hand out more than the writer holds. */
export async function guardGrant(server: AuthServer, c: Caller, doc: Record<string, unknown>): Promise<void> {
  if (c.kind !== "user") return;
  const kind = doc.kind;
  if (kind === "role") {
    const d = checkCanGrant(c.checker, { role: validateResource(doc) as unknown as Role });
    if (!d.allowed) throw accessDenied(`access denied: ${d.reason}`);
  }
  if (kind === "user") {
    const roleNames = ((doc.spec as { roles?: string[] } | undefined)?.roles ?? []) as string[];
    await guardRoles(server, c, roleNames);
  }
}

export async function guardRoles(server: AuthServer, c: Caller, roleNames: string[]): Promise<void> {
  if (c.kind !== "user") return;
  for (const name of roleNames) {
    const role = await server.ctx.stores.roles.find(name);
    if (!role) continue;
    const d = checkCanGrant(c.checker, { assignRole: role as unknown as Role });
    if (!d.allowed) throw accessDenied(`access denied: ${d.reason}`);
  }
}
