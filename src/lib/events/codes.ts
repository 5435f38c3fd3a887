/**
 * Every audit event name with its stable codes. Names and codes follow
 * Teleport's where Teleport has the event (so SIEM rules carry over); codes are
 * never changed once released. The suffix says the severity: I info, W warning,
 * E error. Events Teleport lacks use codes in the same families.
 */

/** Code given to names missing from the table (Teleport's "unknown event" code). */
export const UNKNOWN_EVENT_CODE = "TCC00E";
export interface EventCodeEntry {
  /** Code when `success` is true or absent. */
  readonly success: string;
  /** Code when `success` is false; absent means the success code is used. */
  readonly failure?: string;
  /** Codes chosen by the event's `action` field (e.g. scp upload vs download). */
  readonly actions?: Readonly<Record<string, { readonly success: string; readonly failure?: string }>>;
  readonly description: string;
}

export const EVENT_CODES = {
  // Users and logins.
  "user.login": { success: "T1000I", failure: "T1000W", description: "local or SSO login" },
  "user.logout": { success: "T1010I", description: "web session signed out" },
  "user.create": { success: "T1002I", description: "user created" },
  "user.update": { success: "T1003I", description: "user updated" },
  "user.delete": { success: "T1004I", description: "user deleted" },
  "user.password_change": { success: "T1005I", failure: "T1005W", description: "password changed" },
  "mfa.add": { success: "T1006I", description: "MFA device added" },
  "mfa.delete": { success: "T1007I", description: "MFA device removed" },
  "session.rejected": { success: "T1006W", description: "connection refused by a limit" },
  "reset_password_token.create": { success: "T6000I", description: "sign-up or reset link created" },

  // SSH sessions.
  "session.start": { success: "T2000I", description: "interactive session started" },
  "session.join": { success: "T2001I", description: "user joined a session" },
  resize: { success: "T2002I", description: "terminal resized" },
  "session.leave": { success: "T2003I", description: "user left a session" },
  "session.end": { success: "T2004I", description: "session ended" },
  "session.upload": { success: "T2005I", description: "session recording uploaded" },
  "session.recording.access": { success: "T2012I", description: "recording played" },
  subsystem: { success: "T3001I", failure: "T3001E", description: "SSH subsystem requested" },
  sftp: { success: "TS001I", failure: "TS001E", description: "SFTP session (bytes in and out)" },
  exec: { success: "T3002I", failure: "T3002E", description: "command executed" },
  port: { success: "T3003I", failure: "T3003E", description: "port forwarded" },
  scp: {
    success: "T3004I",
    failure: "T3004E",
    actions: { download: { success: "T3004I", failure: "T3004E" }, upload: { success: "T3005I", failure: "T3005E" } },
    description: "file copied (action: upload or download)",
  },
  "client.disconnect": { success: "T3006I", description: "client disconnected by the server" },
  auth: { success: "T3007W", failure: "T3007W", description: "authentication attempt failed" },
  "x11-forward": { success: "T3008I", failure: "T3008W", description: "X11 forwarding requested" },

  // Kubernetes, apps, databases, desktops.
  "kube.request": { success: "T3009I", description: "Kubernetes API request" },
  "kube.create": { success: "T3010I", description: "Kubernetes cluster registered (kube_cluster resource created)" },
  "kube.update": { success: "T3011I", description: "kube_cluster resource updated" },
  "kube.delete": { success: "T3012I", description: "kube_cluster resource deleted" },
  "app.session.start": { success: "T2007I", failure: "T2007E", description: "app session started" },
  "app.session.request": { success: "T2009I", description: "app HTTP request" },
  "app.session.end": { success: "T2011I", description: "app session ended" },
  "app.create": { success: "TAP03I", description: "app registered (app resource created)" },
  "app.update": { success: "TAP04I", description: "app resource updated" },
  "app.delete": { success: "TAP05I", description: "app resource deleted" },
  "db.session.start": { success: "TDB00I", failure: "TDB00W", description: "database session started" },
  "db.session.end": { success: "TDB01I", description: "database session ended" },
  "db.session.query": { success: "TDB02I", failure: "TDB02W", description: "database query" },
  "db.create": { success: "TDB03I", description: "database registered (db resource created)" },
  "db.update": { success: "TDB04I", description: "database resource updated" },
  "db.delete": { success: "TDB05I", description: "database resource deleted" },
  "windows.desktop.session.start": { success: "TDP00I", failure: "TDP00W", description: "desktop session started" },
  "windows.desktop.session.end": { success: "TDP01I", description: "desktop session ended" },

  // Access requests.
  "access_request.create": { success: "T5000I", description: "access request created" },
  "access_request.update": { success: "T5001I", description: "access request approved or denied" },
  "access_request.review": { success: "T5002I", description: "access request reviewed" },
  "access_request.delete": { success: "T5003I", description: "access request deleted" },

  // Connectors.
  "github.created": { success: "T8000I", description: "GitHub connector created" },
  "github.deleted": { success: "T8001I", description: "GitHub connector deleted" },
  "oidc.created": { success: "T8100I", description: "OIDC connector created" },
  "oidc.deleted": { success: "T8101I", description: "OIDC connector deleted" },
  "oidc.updated": { success: "T8102I", description: "OIDC connector updated" },
  "saml.created": { success: "T8200I", description: "SAML connector created" },
  "saml.deleted": { success: "T8201I", description: "SAML connector deleted" },
  "saml.updated": { success: "T8202I", description: "SAML connector updated" },

  // Roles, tokens, joining, bots, locks, certificates.
  "role.created": { success: "T9000I", description: "role created" },
  "role.deleted": { success: "T9001I", description: "role deleted" },
  "role.updated": { success: "T9002I", description: "role updated" },
  "token.create": { success: "TJT00I", description: "join token created (value stored as a fingerprint)" },
  "token.delete": { success: "TJT01I", description: "join token deleted" },
  "bot.join": { success: "TJ001I", failure: "TJ001E", description: "bot joined the cluster" },
  join: {
    success: "TJ002I",
    failure: "TJ002E",
    description: "host or agent joined with a token (Teleport: instance.join)",
  },
  "bot.create": { success: "TB001I", description: "bot created" },
  "bot.update": { success: "TB002I", description: "bot updated" },
  "bot.delete": { success: "TB003I", description: "bot deleted" },
  "node.created": { success: "TN001I", description: "node registered by an administrator" },
  "node.updated": { success: "TN002I", description: "node updated by an administrator" },
  "node.deleted": { success: "TN003I", description: "node removed" },
  "lock.created": { success: "TLK00I", description: "lock created" },
  "lock.deleted": { success: "TLK01I", description: "lock deleted" },
  "user.locked": { success: "TLK02W", description: "user locked out after failed login attempts" },
  "cert.create": { success: "TC000I", description: "certificate issued" },
} as const satisfies Record<string, EventCodeEntry>;

export type EventName = keyof typeof EVENT_CODES;

export function isEventName(name: string): name is EventName {
  return Object.hasOwn(EVENT_CODES, name);
}

/**
 * The code for an event: the failure code when `success` is false, chosen by
 * `action` when the event has per-action codes. Undefined for unknown names.
 */
export function eventCode(event: string, success?: boolean, action?: unknown): string | undefined {
  if (!isEventName(event)) return undefined;
  const entry: EventCodeEntry = EVENT_CODES[event];
  const actions = entry.actions;
  const variant = typeof action === "string" && actions !== undefined && Object.hasOwn(actions, action) ? actions[action] : undefined;
  const codes = variant ?? entry;
  return success === false ? (codes.failure ?? codes.success) : codes.success;
}
