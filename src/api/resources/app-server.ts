/**
 * `app_server` v3: what an Application Service heartbeats, once per app it
 * serves (Teleport's AppServerV3 shape). Several services may serve the same
 * app, so the name is `<app name>@<host id>` (`appServerName`), and the schema
 * insists on it: a service writes only its own entries.
 *
 *   kind: app_server
 *   version: v3
 *   metadata: {name: grafana@3f1c…, expires: …}
 *   spec:
 *     host_id: 3f1c…
 *     hostname: app-agent-1
 *     version: 0.1.0
 *     app: {kind: app, version: v3, metadata: {name: grafana, labels: {...}}, spec: {uri, public_addr, ...}}
 */
import { z } from "zod";
import { type App, appLabels, appSchema } from "./app.ts";
import { metadata, nonEmptyString, str, strict } from "./schema.ts";

export const appServerSchema = strict({
  kind: z.literal("app_server"),
  version: z.literal("v3"),
  metadata,
  spec: strict({
    host_id: nonEmptyString,
    hostname: nonEmptyString,
    version: str.optional(),
    app: appSchema,
    /** Teleport writes these; Jumpgate routes through the reverse tunnel of `host_id`. */
    proxy_ids: z.array(str).optional(),
    rotation: z.unknown().optional(),
  }),
}).superRefine((s, ctx) => {
  const want = appServerName(s.spec.app.metadata.name, s.spec.host_id);
  if (s.metadata.name !== want) {
    ctx.addIssue({ code: "custom", path: ["metadata", "name"], message: `must be "${want}" (app name @ host id)` });
  }
});

export type AppServer = z.output<typeof appServerSchema>;
export type AppServerInput = z.input<typeof appServerSchema>;

/** The name of the entry for app `app` served by host `hostId`. */
export function appServerName(app: string, hostId: string): string {
  return `${app}@${hostId}`;
}

/** The app an entry announces, and its labels (static plus command results). */
export function appServerApp(s: Pick<AppServer, "spec">): { app: App; labels: Record<string, string> } {
  return { app: s.spec.app, labels: appLabels(s.spec.app) };
}
