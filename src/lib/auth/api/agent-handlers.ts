import type { JsonObject } from "@bufbuild/protobuf";
import { accessDenied, badParameter } from "../../../api/errors.ts";
import type { AuthContext } from "../context.ts";
import { type Caller, requireAuthenticated, requireRule } from "./authz.ts";

/** System roles of the agents that report audit events and upload recordings. */
const REPORTERS = ["node", "proxy", "db", "app", "kube", "desktop"];

function requireReporter(c: Caller, what: string): asserts c is Extract<Caller, { kind: "host" | "admin" }> {
  requireAuthenticated(c);
  if (c.kind === "admin") return;
  if (c.kind === "host" && c.systemRoles.some((r) => REPORTERS.includes(r))) return;
  throw accessDenied(`only cluster agents may ${what}`);
}

// Agents name the event and may give its uid (so a resend is stored once) and time; the code is Auth's.
const RESERVED = ["code", "server_id", "cluster"];
const UID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** An agent's event, stamped with who reported it so one agent cannot speak for another. */
export async function emitAgentEvent(ctx: AuthContext, c: Caller, event: JsonObject | undefined): Promise<void> {
  requireReporter(c, "report audit events");
  if (!event || typeof event.event !== "string" || !/^[a-z][a-z0-9_.]{1,63}$/.test(event.event)) {
    throw badParameter("an audit event needs an event name");
  }
  const clean = Object.fromEntries(Object.entries(event).filter(([k]) => !RESERVED.includes(k)));
  if (clean.uid !== undefined && (typeof clean.uid !== "string" || !UID.test(clean.uid))) delete clean.uid;
  if (clean.time !== undefined && (typeof clean.time !== "string" || Number.isNaN(Date.parse(clean.time)))) delete clean.time;
  await ctx.audit.emit({
    ...clean,
    event: event.event,
    server_id: c.kind === "host" ? c.name : "admin",
    cluster: ctx.config.clusterName,
  });
}

export function uploadRecordingPart(
  ctx: AuthContext,
  c: Caller,
  req: { sessionId: string; offset: bigint; data: Uint8Array; complete: boolean; metadata?: JsonObject | undefined },
): number {
  requireReporter(c, "upload session recordings");
  const meta = req.metadata ? { ...req.metadata, server_id: c.kind === "host" ? c.name : "admin" } : undefined;
  return ctx.recordings.append(req.sessionId, Number(req.offset), Buffer.from(req.data), req.complete, meta);
}

function participants(meta: Record<string, unknown>): string[] {
  const p = meta.participants;
  const list = Array.isArray(p) ? p.filter((x): x is string => typeof x === "string") : [];
  return typeof meta.user === "string" ? [...new Set([meta.user, ...list])] : list;
}

/** Who may see a recording: rules on `session`, evaluated with the session's participants. */
export function canReadRecording(c: Caller, meta: Record<string, unknown>): boolean {
  try {
    if (c.kind === "user") {
      const d = c.checker.checkRule("session", "read", {
        session: { participants: participants(meta) },
        user: { metadata: { name: c.name }, spec: c.user.spec },
      });
      return d.allowed;
    }
    requireRule(c, "session", "read");
    return true;
  } catch {
    return false;
  }
}
