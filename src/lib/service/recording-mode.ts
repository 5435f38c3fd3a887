import type { AuthClient } from "../../api/authclient.ts";
import type { Clock } from "../../api/clock.ts";
import { storedFromProto } from "../../api/convert.ts";
import type { SessionRecordingMode } from "../../api/resources/index.ts";

/** How long a read of `session_recording_config` is reused: a change takes effect within this long. */
const MODE_CACHE_MS = 5_000;

/**
 * Reads the cluster's recording mode (`session_recording_config`, Teleport's
 * kind) from Auth, cached for a few seconds. When Auth cannot be asked, the
 * last known mode stands; before the first answer, the failure is thrown.
 */
export function recordingModeReader(auth: Pick<AuthClient, "getResource">, clock: Clock): () => Promise<SessionRecordingMode> {
  let last: { at: number; mode: SessionRecordingMode } | undefined;
  return async () => {
    const now = clock.now().getTime();
    if (last && now - last.at < MODE_CACHE_MS) return last.mode;
    try {
      const r = storedFromProto(await auth.getResource({ kind: "session_recording_config", name: "session_recording_config" }));
      const mode = (r.spec as { mode?: string }).mode;
      last = { at: now, mode: mode === "proxy" || mode === "off" ? mode : "node" };
    } catch (e) {
      if (!last) throw e;
      last = { at: now, mode: last.mode };
    }
    return last.mode;
  };
}
