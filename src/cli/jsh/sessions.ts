/**
 * `jsh sessions ls` and `jsh join`: active sessions from their trackers in
 * Auth, and joining one on its node through the proxy with your own
 * certificate (docs/decisions/0004-session-join-protocol.md).
 */
import type ssh2 from "ssh2";
import { storedFromProto } from "../../api/convert.ts";
import { accessDenied, notFound } from "../../api/errors.ts";
import type { SessionParticipant, SessionTrackerSpec } from "../../api/resources/index.ts";
import {
  type AuthClient,
  connectNode,
  currentProfile,
  type Format,
  formatDate,
  loadCredentials,
  render,
  table,
  userAuthClient,
} from "../../lib/client/index.ts";
import { decodeIdentity } from "../../lib/crypto/index.ts";

export type JoinMode = "observer" | "peer";

export interface SessionRow {
  session_id: string;
  user: string;
  login: string;
  node: string;
  host_id: string;
  participants: SessionParticipant[];
  started: string;
}

function rowOf(spec: SessionTrackerSpec): SessionRow {
  return {
    session_id: spec.session_id,
    user: spec.owner,
    login: spec.login,
    node: spec.hostname,
    host_id: spec.host_id,
    participants: spec.participants,
    started: spec.created,
  };
}

/** The active sessions the user owns, takes part in or could join. */
export async function listSessions(auth: AuthClient): Promise<SessionRow[]> {
  const res = (await auth.listResources({ kind: "session_tracker" })).resources.map(storedFromProto);
  return res
    .map((r) => r.spec as SessionTrackerSpec)
    .filter((s) => s.state === "active")
    .map(rowOf)
    .sort((a, b) => a.started.localeCompare(b.started));
}

export function renderSessions(rows: SessionRow[], format: Format): string {
  return render(rows, format, () =>
    table(
      ["Session ID", "User", "Login", "Node", "Participants", "Started"],
      rows.map((r) => [
        r.session_id,
        r.user,
        r.login,
        r.node,
        r.participants.map((p) => (p.user === r.user ? p.user : `${p.user} (${p.mode})`)).join(", "),
        formatDate(r.started),
      ]),
    ),
  );
}

/**
 * Watches the joiner's keystrokes for the ways to leave: `~.` at the start of
 * a line (as in OpenSSH), and Ctrl-C for an observer (whose keys go nowhere
 * anyway). Everything else is passed on; the node decides what reaches the shell.
 */
export class LeaveKeys {
  private lineStart = true;
  private tilde = false;

  constructor(private readonly mode: JoinMode) {}

  feed(data: Buffer): { forward: Buffer; leave: boolean } {
    const out: number[] = [];
    for (const b of data) {
      if (this.tilde) {
        this.tilde = false;
        if (b === 0x2e) return { forward: Buffer.from(out), leave: true };
        out.push(0x7e);
        if (b === 0x7e) {
          this.lineStart = false;
          continue; // "~~" sends one "~"
        }
      } else if (this.lineStart && b === 0x7e) {
        this.tilde = true;
        continue;
      }
      if (b === 0x03 && this.mode === "observer") return { forward: Buffer.from(out), leave: true };
      out.push(b);
      this.lineStart = b === 0x0d || b === 0x0a;
    }
    return { forward: Buffer.from(out), leave: false };
  }
}

export interface JoinFlags {
  mode: JoinMode;
  login?: string;
  proxy?: string;
}

/** `jsh join`: resolves the tracker, SSHes to its node as one of your logins, and attaches. Resolves with the exit code. */
export async function jshJoin(sessionId: string, flags: JoinFlags): Promise<number> {
  const p = currentProfile(flags.proxy);
  const creds = loadCredentials(p);
  const auth = userAuthClient(p);
  let spec: SessionTrackerSpec;
  try {
    spec = storedFromProto(await auth.getResource({ kind: "session_tracker", name: sessionId })).spec as SessionTrackerSpec;
  } finally {
    auth.close();
  }
  if (spec.state !== "active") throw notFound(`session ${sessionId} has ended`);
  const logins = decodeIdentity(creds.tlsCert).logins;
  // Any of your logins the node accepts will do: the owner's if you have it, else your first.
  const login = flags.login ?? (logins.includes(spec.login) ? spec.login : logins[0]);
  if (!login) throw accessDenied("joining a session needs one of your logins on its node, and you have none");
  const { node, proxy } = await connectNode(p, creds, { host: spec.host_id, port: 0, login });
  try {
    return await attach(node, sessionId, spec, flags.mode);
  } finally {
    node.end();
    proxy.end();
  }
}

function attach(node: ssh2.Client, sessionId: string, spec: SessionTrackerSpec, mode: JoinMode): Promise<number> {
  const env = { JUMPGATE_SESSION_JOIN: sessionId, JUMPGATE_SESSION_MODE: mode };
  const tty = process.stdin.isTTY === true;
  return new Promise<number>((resolve, reject) => {
    node.shell(false, { env }, (err, ch) => {
      if (err) return reject(accessDenied(`cannot join session ${sessionId}: ${err.message}`));
      const how = mode === "observer" ? "Ctrl-C or ~. leaves" : "~. at the start of a line leaves";
      process.stderr.write(`Joining ${spec.owner}'s session on ${spec.hostname} as ${mode} (${how}).\r\n`);
      let code = 0;
      let left = false;
      const keys = new LeaveKeys(mode);
      const onInput = (d: Buffer) => {
        const r = keys.feed(d);
        if (r.forward.length > 0 && ch.writable) ch.write(r.forward);
        if (r.leave) {
          left = true;
          ch.close();
        }
      };
      ch.on("data", (d: Buffer) => process.stdout.write(d));
      ch.stderr.on("data", (d: Buffer) => process.stderr.write(d));
      ch.on("exit", (c: number | null) => {
        code = c ?? 0;
      });
      ch.on("close", () => {
        process.stdin.off("data", onInput);
        if (tty) process.stdin.setRawMode(false);
        process.stdin.pause();
        if (left) process.stderr.write(`\r\nLeft session ${sessionId}.\r\n`);
        resolve(left ? 0 : code);
      });
      if (tty) process.stdin.setRawMode(true);
      process.stdin.on("data", onInput);
      process.stdin.resume();
    });
  });
}
