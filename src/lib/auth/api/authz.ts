import type { TLSSocket } from "node:tls";
import { accessDenied } from "../../../api/errors.ts";
import type { Identity } from "../../crypto/index.ts";
import type { AccessChecker } from "../../rbac/index.ts";
import { checkerFor } from "../certs.ts";
import type { AuthContext } from "../context.ts";
import { requireNotLocked } from "../locks.ts";
import type { UserResource } from "../users.ts";
import { PeerIdentityCache } from "./identity-cache.ts";

/** Who is calling, as read once from the client certificate. */
export type Peer = { kind: "anonymous"; addr: string; reason?: string } | { kind: "identity"; addr: string; identity: Identity };

export type Caller =
  | { kind: "anonymous"; addr: string; reason?: string }
  | { kind: "admin"; name: string; addr: string }
  | { kind: "host"; name: string; systemRoles: string[]; addr: string; identity: Identity }
  | { kind: "user"; name: string; addr: string; identity: Identity; user: UserResource; checker: AccessChecker };

/** Decoded client certificates (decoding costs milliseconds; trust and expiry are still checked per call). */
const identities = new PeerIdentityCache();

export function peerFromSocket(socket: TLSSocket | undefined): Peer {
  const addr = `${socket?.remoteAddress ?? "?"}:${socket?.remotePort ?? 0}`;
  if (!socket || typeof socket.getPeerX509Certificate !== "function") return { kind: "anonymous", addr };
  const cert = socket.getPeerX509Certificate();
  if (!cert) return { kind: "anonymous", addr };
  if (!socket.authorized) {
    return { kind: "anonymous", addr, reason: refusalReason(String(socket.authorizationError)) };
  }
  const decoded = identities.lookup(cert);
  return decoded.ok ? { kind: "identity", addr, identity: decoded.identity } : { kind: "anonymous", addr, reason: decoded.reason };
}

/** One line a person understands for why TLS did not accept the client certificate. */
function refusalReason(code: string): string {
  switch (code) {
    case "CERT_HAS_EXPIRED":
      return "your certificate has expired; log in again";
    case "CERT_NOT_YET_VALID":
      return "your certificate is not valid yet; check this machine's clock";
    case "UNABLE_TO_VERIFY_LEAF_SIGNATURE":
    case "UNABLE_TO_GET_ISSUER_CERT_LOCALLY":
    case "SELF_SIGNED_CERT_IN_CHAIN":
    case "DEPTH_ZERO_SELF_SIGNED_CERT":
      return "your certificate was not issued by this cluster's certificate authority";
    default:
      return `your certificate was refused (${code})`;
  }
}

/**
 * Resolves the caller against *current* state: a deleted user or role takes
 * effect at once, not when the certificate expires.
 */
export async function resolveCaller(ctx: AuthContext, peer: Peer): Promise<Caller> {
  if (peer.kind === "anonymous") {
    return peer.reason ? { kind: "anonymous", addr: peer.addr, reason: peer.reason } : { kind: "anonymous", addr: peer.addr };
  }
  const id = peer.identity;
  if (id.clusterName && id.clusterName !== ctx.config.clusterName) {
    throw accessDenied(`certificate was issued by cluster "${id.clusterName}", not "${ctx.config.clusterName}"`);
  }
  if (id.expires.getTime() <= ctx.clock.now().getTime()) throw accessDenied("certificate has expired; log in again");
  if (id.kind === "host") {
    if (id.systemRoles.includes("admin")) return { kind: "admin", name: `admin@${id.username}`, addr: peer.addr };
    await requireNotLocked(ctx, { node: id.username });
    return { kind: "host", name: id.username, systemRoles: id.systemRoles, addr: peer.addr, identity: id };
  }
  const user = (await ctx.stores.users.find(id.username)) as UserResource | undefined;
  if (!user) throw accessDenied(`user "${id.username}" no longer exists`);
  await requireNotLocked(ctx, { user: user.metadata.name, roles: user.spec.roles });
  const checker = await checkerFor(ctx, user);
  return { kind: "user", name: id.username, addr: peer.addr, identity: id, user, checker };
}

export function callerName(c: Caller): string {
  return c.kind === "anonymous" ? `anonymous@${c.addr}` : c.name;
}

/** Hosts with these system roles may read cluster state (roles, users, CAs, nodes). */
const READER_SYSTEM_ROLES = ["proxy", "node", "db", "app", "kube", "desktop"];

export function requireAuthenticated(c: Caller): asserts c is Exclude<Caller, { kind: "anonymous" }> {
  if (c.kind === "anonymous") {
    throw accessDenied(c.reason ?? "this call needs a client certificate from this cluster; log in first");
  }
}

export function requireProxyOrAdmin(c: Caller, what: string): void {
  if (c.kind === "admin") return;
  if (c.kind === "host" && c.systemRoles.includes("proxy")) return;
  throw accessDenied(`only the proxy may ${what}`);
}

/** Calls only the proxy makes on behalf of browsers (web sessions). */
export function requireProxy(c: Caller, what: string): void {
  if (c.kind === "host" && c.systemRoles.includes("proxy")) return;
  throw accessDenied(`only the proxy may ${what}`);
}

/** Resource rules: admin may do anything; users by their roles' rules; hosts read. */
export function requireRule(c: Caller, kind: string, verb: string): void {
  requireAuthenticated(c);
  if (c.kind === "admin") return;
  if (c.kind === "host") {
    if ((verb === "read" || verb === "list") && c.systemRoles.some((r) => READER_SYSTEM_ROLES.includes(r))) return;
    throw accessDenied(`host ${c.name} may not ${verb} ${kind}`);
  }
  const d = c.checker.checkRule(kind, verb);
  if (!d.allowed) throw accessDenied(`access denied: you may not ${verb} ${kind}${d.reason ? ` (${d.reason})` : ""}`);
}
