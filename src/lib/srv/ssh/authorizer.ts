/**
 * The node's access decision: may this certificate's user log in as this OS
 * login here, and with what session policy. `RbacAuthorizer` decides from the
 * user's and roles' *current* definitions (DESIGN §2: a deleted user or role,
 * or a changed role, takes effect at the next login, not at certificate expiry).
 */
import type { KeyObject } from "node:crypto";
import type { Clock } from "../../../api/clock.ts";
import type { Role } from "../../../api/resources/index.ts";
import { readUserCertExtensions, type SshCertificate } from "../../crypto/index.ts";
import { AccessChecker } from "../../rbac/index.ts";

/** What a session on this node may do, decided once at login. */
export interface SessionPolicy {
  permitPty: boolean;
  permitPortForwarding: boolean;
  permitAgentForwarding: boolean;
  /** Close the connection after this long without data either way; 0 = never. */
  clientIdleTimeoutMs: number;
  /** Close the connection at this instant (the certificate's expiry when a role says `disconnect_expired_cert`). */
  disconnectAt?: Date;
  /** Record interactive sessions. */
  recordSession: boolean;
}

export interface AuthorizeRequest {
  /** The Jumpgate user (the certificate's key id). */
  user: string;
  /** The OS login asked for. */
  login: string;
  /** The verified user certificate. */
  cert: SshCertificate;
  remoteAddr: string;
}

export type AuthorizeResult = { allowed: true; policy: SessionPolicy } | { allowed: false; reason: string };

/** A request to join `owner`'s running session of `kind` ("ssh") in `mode` ("observer", "peer"). */
export interface JoinAuthorizeRequest {
  user: string;
  owner: string;
  kind: string;
  mode: string;
}

export type JoinDecision = { allowed: true } | { allowed: false; reason: string };

export interface NodeAuthorizer {
  /** The user CA keys to trust (several during a rotation). */
  trustedUserCaKeys(): KeyObject[];
  authorize(req: AuthorizeRequest): Promise<AuthorizeResult>;
  /** May the user join the session, by his roles' `join_sessions` and the owner's roles? Absent: nobody may join. */
  authorizeJoin?(req: JoinAuthorizeRequest): Promise<JoinDecision>;
}

export interface RbacAuthorizerOptions {
  /** The user's current roles and traits; undefined when the user does not exist (any more). */
  getUser(name: string): Promise<{ roles: string[]; traits: Record<string, string[]> } | undefined>;
  /** A role's current definition; undefined when it does not exist (any more). */
  getRole(name: string): Promise<Role | undefined>;
  /** This node's labels now (static and command labels). */
  labels(): Record<string, string>;
  userCaKeys(): KeyObject[];
  clock: Clock;
  /** Named in refusals ("login "root" is not allowed on web-1 (...)"); default "this node". */
  nodeName?: string;
  /** A lock in force on this user, one of his roles or this node: its message; undefined when none. */
  lockedBy?(who: { user: string; roles: string[] }): Promise<string | undefined>;
  /**
   * The cluster's `session_recording_config` mode; absent: `node`. Only in mode
   * `node` does this node record (in `proxy` the proxy does, in `off` nobody).
   */
  recordingMode?(): Promise<string>;
}

/** True when a role turns SSH session recording off (`record_session: {ssh: off}`). */
function recordingOff(r: Role): boolean {
  const mode: unknown = r.spec.options.record_session?.ssh;
  return mode === "off" || mode === false;
}

export class RbacAuthorizer implements NodeAuthorizer {
  constructor(private readonly o: RbacAuthorizerOptions) {}

  trustedUserCaKeys(): KeyObject[] {
    return this.o.userCaKeys();
  }

  async authorize(req: AuthorizeRequest): Promise<AuthorizeResult> {
    const node = this.o.nodeName ?? "this node";
    const refuse = (why: string): AuthorizeResult => ({
      allowed: false,
      reason: `login ${JSON.stringify(req.login)} is not allowed on ${node} (${why})`,
    });
    const user = await this.o.getUser(req.user);
    if (!user) return refuse(`user ${JSON.stringify(req.user)} does not exist`);
    const lock = await this.o.lockedBy?.({ user: req.user, roles: user.roles });
    if (lock) return refuse(lock);
    const roles = (await Promise.all(user.roles.map((name) => this.o.getRole(name)))).filter((r): r is Role => r !== undefined);
    const checker = new AccessChecker(roles, user.traits);
    const d = checker.checkNodeAccess({ labels: this.o.labels() }, req.login);
    if (!d.allowed) return refuse(d.reason);

    let ext: ReturnType<typeof readUserCertExtensions>;
    try {
      ext = readUserCertExtensions(req.cert);
    } catch (e) {
      return refuse(e instanceof Error ? e.message : "malformed certificate");
    }
    const perms = checker.certPermissions();
    const policy: SessionPolicy = {
      permitPty: perms.permitPty && ext.permitPty,
      permitPortForwarding: perms.permitPortForwarding && ext.permitPortForwarding,
      permitAgentForwarding: perms.permitAgentForwarding && ext.permitAgentForwarding,
      clientIdleTimeoutMs: checker.clientIdleTimeoutMs(),
      recordSession: !roles.some(recordingOff) && (await this.recordsHere()),
    };
    if (checker.disconnectExpiredCert()) policy.disconnectAt = req.cert.validBefore;
    return { allowed: true, policy };
  }

  /** Whether sessions are recorded on this side (the node's) at all; when the mode cannot be read, record. */
  private async recordsHere(): Promise<boolean> {
    if (!this.o.recordingMode) return true;
    try {
      return (await this.o.recordingMode()) === "node";
    } catch {
      return true;
    }
  }

  async authorizeJoin(req: JoinAuthorizeRequest): Promise<JoinDecision> {
    const user = await this.o.getUser(req.user);
    if (!user) return { allowed: false, reason: `user ${JSON.stringify(req.user)} does not exist` };
    const roles = (await Promise.all(user.roles.map((name) => this.o.getRole(name)))).filter((r): r is Role => r !== undefined);
    // Policies match the owner's current roles; an owner who no longer exists has none, so nothing matches.
    const hostRoles = (await this.o.getUser(req.owner))?.roles ?? [];
    const d = new AccessChecker(roles, user.traits).canJoinSession({ kind: req.kind, hostRoles }, req.mode);
    return d.allowed ? { allowed: true } : { allowed: false, reason: d.reason };
  }
}
