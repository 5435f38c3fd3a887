/**
 * One authenticated SSH connection: who it is, its session policy, its
 * sessions and forwardings, and the limits that end it (idle timeout,
 * disconnect at certificate expiry).
 */
import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import type { Clock } from "../../../api/clock.ts";
import type { SshCertificate } from "../../crypto/index.ts";
import type { JoinAuthorizeRequest, JoinDecision, SessionPolicy } from "./authorizer.ts";
import { Forwarding } from "./forwarding.ts";
import type { OsLogin } from "./oslogin.ts";
import type { SessionParty } from "./party.ts";
import { type RecorderFactory, SessionChannel } from "./session.ts";
import type { PatchedConnection } from "./ssh2ext.ts";
import type { TrackerSink } from "./tracker.ts";

export type AuditFn = (e: Record<string, unknown> & { event: string }) => void;

/** What every connection shares from the service. */
export interface ServiceDeps {
  hostId: string;
  nodeName: string;
  clusterName: string;
  audit: AuditFn;
  recorders?: RecorderFactory;
  clock: Clock;
  log: Logger;
  /** Called when a session's program starts, for `activeSessions()` and `close()` (the session's onDone ends it). */
  track(s: SessionChannel): void;
  /** The running interactive session with this ID, to join. */
  findParty(sessionId: string): SessionParty | undefined;
  authorizeJoin(req: JoinAuthorizeRequest): Promise<JoinDecision>;
  /** Where interactive sessions' trackers go; absent: not tracked. */
  trackers?: TrackerSink;
}

export interface ConnIdentity {
  user: string;
  login: string;
  os: OsLogin;
  policy: SessionPolicy;
  cert: SshCertificate;
  remoteAddr: string;
}

/** What sessions and forwardings see of their connection. */
export interface ConnContext extends ConnIdentity {
  readonly connId: string;
  readonly client: PatchedConnection;
  readonly deps: ServiceDeps;
  readonly log: Logger;
  touch(): void;
  audit(event: string, fields: Record<string, unknown>): void;
  agentSocket(): Promise<string>;
}

function describeMs(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  return `${Math.round(ms / 1000)}s`;
}

export class SshConnection implements ConnContext {
  readonly connId = randomUUID();
  readonly user: string;
  readonly login: string;
  readonly os: OsLogin;
  readonly policy: SessionPolicy;
  readonly cert: SshCertificate;
  readonly remoteAddr: string;
  readonly log: Logger;
  private readonly sessions = new Set<SessionChannel>();
  private readonly forwarding: Forwarding;
  private lastActivity: number;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    readonly client: PatchedConnection,
    id: ConnIdentity,
    readonly deps: ServiceDeps,
  ) {
    this.user = id.user;
    this.login = id.login;
    this.os = id.os;
    this.policy = id.policy;
    this.cert = id.cert;
    this.remoteAddr = id.remoteAddr;
    this.log = deps.log.child({ conn: this.connId, user: id.user, login: id.login });
    this.forwarding = new Forwarding(this);
    this.lastActivity = deps.clock.now().getTime();

    client.on("session", (accept, reject) => {
      if (this.closed) return reject();
      const s = new SessionChannel(this, accept());
      this.sessions.add(s);
      s.onDone(() => this.sessions.delete(s));
    });
    client.on("tcpip", (accept, reject, info) => this.forwarding.direct(accept, reject, info));
    client.on("request", (accept, reject, name, info) => this.forwarding.request(accept, reject, name, info));
    client.on("close", () => void this.shutdown());
    this.startLimits();
  }

  touch(): void {
    this.lastActivity = this.deps.clock.now().getTime();
  }

  audit(event: string, fields: Record<string, unknown>): void {
    this.deps.audit({
      event,
      user: this.user,
      login: this.login,
      server_id: this.deps.hostId,
      server_hostname: this.deps.nodeName,
      addr_remote: this.remoteAddr,
      ...fields,
    });
  }

  agentSocket(): Promise<string> {
    return this.forwarding.agentSocket();
  }

  private startLimits(): void {
    const idle = this.policy.clientIdleTimeoutMs;
    const at = this.policy.disconnectAt?.getTime();
    if (idle <= 0 && at === undefined) return;
    const period = idle > 0 ? Math.max(50, Math.min(1000, Math.floor(idle / 4))) : 1000;
    this.timer = setInterval(() => {
      const now = this.deps.clock.now().getTime();
      if (at !== undefined && now >= at) {
        this.disconnect(`your certificate expired at ${new Date(at).toISOString()}`);
      } else if (idle > 0 && now - this.lastActivity >= idle) {
        this.disconnect(`client idle for more than ${describeMs(idle)}`);
      }
    }, period);
    this.timer.unref();
  }

  /** Closes the connection with a message on every session's stderr, and audits why. */
  disconnect(reason: string): void {
    if (this.closed) return;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.log.info({ reason }, "disconnecting client");
    this.audit("client.disconnect", { reason });
    for (const s of this.sessions) s.notice(`jumpgate: ${reason}, disconnecting`);
    // Let the notices go out before the transport closes.
    setTimeout(() => this.client.end(), 100).unref();
  }

  async shutdown(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    for (const s of this.sessions) s.terminate();
    await this.forwarding.close();
  }

  /** Ends the connection now (service shutdown). */
  end(): void {
    this.client.end();
    void this.shutdown();
  }
}
