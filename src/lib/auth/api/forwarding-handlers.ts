/**
 * Certificates for recording at the proxy (`session_recording_config` mode
 * `proxy`, and agentless OpenSSH nodes in every mode). The proxy terminates
 * the user's SSH connection there, so it needs:
 * - a short user certificate to log in to the node as that user, for the one
 *   login he asked for, only when his current roles allow that login on that
 *   node and no lock is in force (the node, or sshd, still checks it again);
 * - a host certificate under the node's registered names for the proxy's
 *   forwarding key, so that the user's OpenSSH client, trusting the host CA
 *   with `@cert-authority`, accepts the proxy in the node's place.
 * Only hosts with the proxy system role may ask; Auth picks the principals.
 */

import { accessDenied, badParameter } from "../../../api/errors.ts";
import type { GenerateForwardingHostCertRequest, GenerateForwardingUserCertRequest } from "../../../api/gen/jumpgate/v1/auth_pb.ts";
import { type Node, nodeLabels } from "../../../api/resources/index.ts";
import { formatCertificateLine, parseSshPublicKey, signHostCertificate, signUserCertificate } from "../../crypto/index.ts";
import { checkerFor } from "../certs.ts";
import type { AuthContext } from "../context.ts";
import { requireNotLocked } from "../locks.ts";
import type { UserResource } from "../users.ts";
import { type Caller, requireProxy } from "./authz.ts";

export const FORWARDING_USER_TTL_MS = 5 * 60_000;
const MAX_FORWARDING_USER_TTL_MS = 10 * 60_000;
export const FORWARDING_HOST_TTL_MS = 3600_000;

export interface ForwardingCert {
  sshCert: string;
  principals: string[];
  expires: string;
}

function publicKeyOf(line: string) {
  try {
    return parseSshPublicKey(line);
  } catch {
    throw badParameter("the SSH public key is not a valid OpenSSH public key");
  }
}

async function registeredNode(ctx: AuthContext, hostId: string): Promise<Node> {
  const n = hostId ? await ctx.stores.nodes.find(hostId) : undefined;
  if (!n) throw badParameter(`node ${JSON.stringify(hostId)} is not registered`);
  return n as unknown as Node;
}

/** A user certificate for one login on one node, for the proxy to log in with on the user's behalf. */
export async function generateForwardingUserCert(ctx: AuthContext, c: Caller, req: GenerateForwardingUserCertRequest): Promise<ForwardingCert> {
  requireProxy(c, "ask for forwarding certificates");
  if (!req.user || !req.login) throw badParameter("a forwarding certificate needs a user and a login");
  const user = (await ctx.stores.users.find(req.user)) as UserResource | undefined;
  if (!user) throw accessDenied(`user ${JSON.stringify(req.user)} no longer exists`);
  const node = await registeredNode(ctx, req.hostId);
  await requireNotLocked(ctx, { user: req.user, roles: user.spec.roles, node: node.metadata.name });
  const checker = await checkerFor(ctx, user);
  const d = checker.checkNodeAccess({ labels: nodeLabels(node) }, req.login);
  if (!d.allowed) throw accessDenied(`login ${JSON.stringify(req.login)} is not allowed on ${node.spec.hostname} (${d.reason})`);
  const now = ctx.clock.now().getTime();
  let ttl = Math.min(req.ttlSeconds > 0n ? Number(req.ttlSeconds) * 1000 : FORWARDING_USER_TTL_MS, MAX_FORWARDING_USER_TTL_MS, checker.maxSessionTtlMs());
  if (req.notAfter) {
    const limit = Date.parse(req.notAfter);
    if (Number.isNaN(limit)) throw badParameter("not_after is not a time");
    ttl = Math.min(ttl, limit - now);
  }
  if (ttl <= 0) throw accessDenied("your certificate has expired; log in again");
  const ca = ctx.authorities.get("user");
  if (!ca.sshSigner) throw accessDenied("this Auth Service cannot sign user certificates");
  const perms = checker.certPermissions();
  const cert = signUserCertificate({
    publicKey: publicKeyOf(req.sshPublicKey),
    caKey: ca.sshSigner,
    keyId: user.metadata.name,
    principals: [req.login],
    ttlMs: ttl,
    clock: ctx.clock,
    permitPty: perms.permitPty,
    permitPortForwarding: perms.permitPortForwarding,
    permitAgentForwarding: false,
    permitX11Forwarding: false,
    roles: user.spec.roles,
    traits: user.spec.traits,
    routeToCluster: ctx.config.clusterName,
    activeRequests: [],
  });
  await ctx.audit.emit({
    event: "cert.create",
    user: user.metadata.name,
    cert_type: "user",
    forwarding: true,
    login: req.login,
    node_id: node.metadata.name,
    proxy: c.kind === "host" ? c.name : "",
    ttl_seconds: Math.round(ttl / 1000),
  });
  return { sshCert: formatCertificateLine(cert), principals: [req.login], expires: new Date(now + ttl).toISOString() };
}

/** The names a user's client may know a node by: what `issueHostCerts` gives the node itself. */
export function nodePrincipals(node: Node, cluster: string): string[] {
  const id = node.metadata.name;
  const names = [id, `${id}.${cluster}`, node.spec.hostname, `${node.spec.hostname}.${cluster}`];
  return [...new Set(names)];
}

/** A host certificate for the proxy's forwarding key under a registered node's names. */
export async function generateForwardingHostCert(ctx: AuthContext, c: Caller, req: GenerateForwardingHostCertRequest): Promise<ForwardingCert> {
  requireProxy(c, "ask for forwarding host certificates");
  const node = await registeredNode(ctx, req.hostId);
  const ca = ctx.authorities.get("host");
  if (!ca.sshSigner) throw accessDenied("this Auth Service cannot sign host certificates");
  const cluster = ctx.config.clusterName;
  const principals = nodePrincipals(node, cluster);
  const cert = signHostCertificate({
    publicKey: publicKeyOf(req.sshPublicKey),
    caKey: ca.sshSigner,
    hostId: node.metadata.name,
    clusterName: cluster,
    principals,
    // Not "node": the key belongs to the proxy, which speaks for the node only towards users.
    role: "proxy",
    ttlMs: FORWARDING_HOST_TTL_MS,
    clock: ctx.clock,
  });
  const expires = new Date(ctx.clock.now().getTime() + FORWARDING_HOST_TTL_MS).toISOString();
  return { sshCert: formatCertificateLine(cert), principals, expires };
}
