import { create } from "@bufbuild/protobuf";
import { toProto } from "../../../api/convert.ts";
import { badParameter } from "../../../api/errors.ts";
import { type WatchEvent, WatchEventSchema } from "../../../api/gen/jumpgate/v1/auth_pb.ts";
import type { BackendEvent } from "../../backend/index.ts";
import type { AuthContext } from "../context.ts";

const PREFIX: Record<string, string> = {
  user: "/users/",
  role: "/roles/",
  token: "/tokens/",
  node: "/nodes/",
  db: "/databases/",
  db_server: "/db_servers/",
  app: "/apps/",
  app_server: "/app_servers/",
  kube_cluster: "/kube_clusters/",
  kube_server: "/kube_servers/",
};

/** Streams resource changes; the first event ("init") says the watch is live. */
export async function* watchResources(ctx: AuthContext, kinds: string[], fromRevision: number, signal: AbortSignal): AsyncGenerator<WatchEvent> {
  const prefixes: string[] = [];
  for (const k of kinds) {
    const p = PREFIX[k];
    if (!p) throw badParameter(`kind "${k}" cannot be watched; use one of ${Object.keys(PREFIX).join(", ")}`);
    prefixes.push(p);
  }
  const watcher = ctx.backend.watch(fromRevision > 0 ? { prefixes, fromRevision } : { prefixes });
  const onAbort = () => watcher.close();
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    yield create(WatchEventSchema, { type: "init", revision: BigInt(await ctx.backend.currentRevision()) });
    for await (const ev of watcher) {
      yield toWatchEvent(ev);
    }
  } finally {
    signal.removeEventListener("abort", onAbort);
    watcher.close();
  }
}

function toWatchEvent(ev: BackendEvent): WatchEvent {
  const key = ev.item.key;
  const kind = Object.entries(PREFIX).find(([, p]) => key.startsWith(p))?.[0] ?? "";
  const name = key.slice(key.lastIndexOf("/") + 1);
  const out = create(WatchEventSchema, { type: ev.type, revision: BigInt(ev.item.revision), kind, name });
  if (ev.type === "put") {
    const doc = JSON.parse(ev.item.value.toString("utf8"));
    doc.metadata.revision = ev.item.revision;
    out.resource = toProto(doc);
  }
  return out;
}
