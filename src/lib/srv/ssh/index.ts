/**
 * The node's SSH server (DESIGN §6): host certificate, user-certificate
 * authentication with the RBAC decision, sessions run as the OS login (PTY,
 * exec, sftp, scp), port and agent forwarding, recording, session trackers
 * and joining running sessions, audit.
 */
export {
  type AuthorizeRequest,
  type AuthorizeResult,
  type JoinAuthorizeRequest,
  type JoinDecision,
  type NodeAuthorizer,
  RbacAuthorizer,
  type RbacAuthorizerOptions,
  type SessionPolicy,
} from "./authorizer.ts";
export { lookupLogin, type OsLogin, parsePasswdLine } from "./oslogin.ts";
export { SshService, type SshServiceOptions } from "./server.ts";
export type { RecorderFactory, SessionRecorder } from "./session.ts";
export { parseScpCommand, type ScpCommand } from "./subsystems.ts";
export { TrackerKeeper, type TrackerSink } from "./tracker.ts";
