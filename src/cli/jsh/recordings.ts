import type { AuthClient } from "../../api/authclient.ts";
import { type Format, formatDate, render, table } from "../../lib/client/index.ts";
import { play, summary, toJsonEvents } from "../../lib/events/index.ts";

export async function recordingsLs(auth: AuthClient, format: Format): Promise<string> {
  const r = await auth.listRecordings({ limit: 500 });
  const rows = r.recordings.map((x) => ({ ...summary({ sessionId: x.sessionId, metadata: x.metadata ?? {} }), complete: x.complete }));
  return render(rows, format, () =>
    table(
      ["Session ID", "User", "Login", "Node", "Started", "Duration"],
      rows.map((s) => [
        s.sessionId,
        s.user,
        s.login,
        s.node,
        s.start ? formatDate(s.start) : "",
        s.durationMs !== undefined ? `${Math.round(s.durationMs / 1000)}s` : s.complete ? "" : "in progress",
      ]),
    ),
  );
}

async function* chunks(auth: AuthClient, sessionId: string): AsyncGenerator<Uint8Array> {
  for await (const c of auth.getRecording({ sessionId })) yield c.data;
}

/** `jsh play`: the session's output with its timing, or its events as JSON. */
export async function playRecording(auth: AuthClient, sessionId: string, speed: number, format: Format): Promise<void> {
  if (format === "json" || format === "yaml") {
    const r = await toJsonEvents(chunks(auth, sessionId));
    process.stdout.write(`${render(r, format, () => "")}\n`);
    return;
  }
  await play(chunks(auth, sessionId), { speed, write: (t) => process.stdout.write(t) });
}
