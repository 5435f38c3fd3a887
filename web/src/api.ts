// The only way the UI talks to the proxy: JSON over fetch, with the CSRF token
// on every state-changing call and one place that handles an expired session.

export class ApiError extends Error {
  readonly kind: string;
  readonly status: number;
  readonly line: number | undefined;
  readonly column: number | undefined;
  constructor(status: number, kind: string, message: string, line?: number, column?: number) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.kind = kind;
    this.line = line;
    this.column = column;
  }
}

let csrfToken = "";
let unauthenticated: ((message: string) => void) | undefined;

export function setCsrfToken(token: string): void {
  csrfToken = token;
}

/** Called (once per burst) when any call answers 401: the app goes to the sign-in page. */
export function onUnauthenticated(fn: (message: string) => void): void {
  unauthenticated = fn;
}

const SIGNED_IN_HINT = "jumpgate.signedIn";

/** Whether this browser had a session (so the first page load can skip a certain 401). */
export function hadSession(): boolean {
  try {
    return localStorage.getItem(SIGNED_IN_HINT) === "1";
  } catch {
    return true;
  }
}

export function rememberSession(on: boolean): void {
  try {
    if (on) localStorage.setItem(SIGNED_IN_HINT, "1");
    else localStorage.removeItem(SIGNED_IN_HINT);
  } catch {
    // storage disabled: the app still works, it just asks the server each time
  }
}

function errorFrom(status: number, body: unknown): ApiError {
  if (body && typeof body === "object" && "error" in body) {
    const e = (body as { error: Record<string, unknown> }).error;
    const message = typeof e.message === "string" && e.message ? e.message : `request failed (HTTP ${status})`;
    const kind = typeof e.kind === "string" ? e.kind : "internal";
    const line = typeof e.line === "number" ? e.line : undefined;
    const column = typeof e.column === "number" ? e.column : undefined;
    return new ApiError(status, kind, message, line, column);
  }
  return new ApiError(status, status >= 500 ? "internal" : "bad-parameter", `request failed (HTTP ${status})`);
}

export interface CallOptions {
  /** Do not treat a 401 as an expired session (the sign-in call itself). */
  noRedirect?: boolean;
  signal?: AbortSignal;
}

export async function api<T>(method: string, path: string, body?: unknown, o: CallOptions = {}): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (method !== "GET" && method !== "HEAD" && csrfToken) headers["x-csrf-token"] = csrfToken;
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? null : JSON.stringify(body),
      signal: o.signal ?? null,
    });
  } catch (e) {
    if (e instanceof DOMException && e.name === "AbortError") throw e;
    throw new ApiError(0, "connection-problem", "cannot reach the Jumpgate proxy; check your network connection");
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  if (!res.ok) {
    const err = errorFrom(res.status, parsed);
    if (res.status === 401 && !o.noRedirect) {
      rememberSession(false);
      unauthenticated?.(err.message);
    }
    throw err;
  }
  return parsed as T;
}

export function errorText(e: unknown): string {
  if (e instanceof ApiError) return e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}

export function query(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== "") q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : "";
}

// --- the shapes of the web API (docs/web-api.md) ---

export interface Acl {
  users: boolean;
  roles: boolean;
  tokens: boolean;
  audit: boolean;
  recordings: boolean;
  sessions: boolean;
}

export interface CurrentSession {
  user: string;
  roles: string[];
  csrf_token: string;
  expires: string;
  idle_timeout_seconds: number;
  cluster_name?: string;
  acl?: Acl;
}

export interface Ping {
  cluster_name: string;
  server_version: string;
  auth: { second_factor: string; type: string };
}

export interface Invite {
  user: string;
  expires: string;
  second_factor: string;
  totp_secret: string;
  totp_url: string;
  totp_qr_svg: string;
}

export interface Resource {
  kind: string;
  id: string;
  name: string;
  description: string;
  labels: Record<string, string>;
  /** SSH logins (nodes) or database users (databases) the user's roles allow; none for apps. */
  logins: string[];
  /** For databases: the protocol (postgres, mysql). For apps: `http` or `tcp`. */
  sub_kind: string;
  /** Databases only: the database names the roles allow ("*": any). */
  db_names?: string[];
  /** Apps only: host[:port] the proxy serves the app at. */
  public_addr?: string;
  /** HTTP apps only: the page that opens the app in a new tab (`/web/launch/NAME`). */
  launch_url?: string;
}

export interface ActiveSession {
  id: string;
  kind: string;
  node: string;
  host_id: string;
  login: string;
  user: string;
  created: string;
  participants: { user: string; mode: string }[];
  join_modes: string[];
}

export interface RecordingSummary {
  session_id: string;
  user: string;
  login: string;
  node: string;
  start: string;
  duration_ms: number | null;
  size: number;
  complete: boolean;
}

export type RecordingEvent =
  | { type: "output"; time: number; data: string }
  | { type: "resize"; time: number; cols: number; rows: number }
  | { type: "end"; time: number; reason?: string }
  | { type: string; time: number; [k: string]: unknown };

export interface Recording {
  header: {
    version: number;
    width: number;
    height: number;
    timestamp: number;
    jumpgate?: { session_id?: string; user?: string; login?: string; node_name?: string; start?: string };
  };
  events: RecordingEvent[];
}

export interface AuditEvent {
  event: string;
  code?: string;
  time: string;
  user?: string;
  [k: string]: unknown;
}

export interface UserItem {
  name: string;
  roles: string[];
  traits: Record<string, string[]>;
  created: string;
  status: string;
  locked_until: string | null;
}

export interface InviteLink {
  name: string;
  invite_url: string;
  expires: string;
}

export interface RoleItem {
  name: string;
  description: string;
  yaml: string;
}

export interface TokenItem {
  name: string;
  roles: string[];
  expires: string;
}
