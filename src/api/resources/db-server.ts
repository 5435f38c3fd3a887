/**
 * `db_server` v3: what a Database Service heartbeats, once per database it
 * serves (Teleport's DatabaseServerV3 shape). Several services may serve the
 * same database, so the name is `<database name>@<host id>` (`dbServerName`),
 * and the schema insists on it: a service writes only its own entries, and the
 * database behind an entry is always `spec.database`.
 *
 *   kind: db_server
 *   version: v3
 *   metadata: {name: pg@3f1c…, expires: …}
 *   spec:
 *     host_id: 3f1c…          # the Database Service's host UUID
 *     hostname: db-agent-1
 *     version: 0.1.0
 *     database: {kind: db, version: v3, metadata: {name: pg, labels: {...}}, spec: {protocol, uri, dynamic_labels, ...}}
 */
import { z } from "zod";
import { type Database, databaseLabels, dbSchema } from "./db.ts";
import { metadata, nonEmptyString, str, strict } from "./schema.ts";

export const dbServerSchema = strict({
  kind: z.literal("db_server"),
  version: z.literal("v3"),
  metadata,
  spec: strict({
    host_id: nonEmptyString,
    hostname: nonEmptyString,
    version: str.optional(),
    database: dbSchema,
    /** Teleport writes these; Jumpgate routes through the reverse tunnel of `host_id`. */
    proxy_ids: z.array(str).optional(),
    rotation: z.unknown().optional(),
  }),
}).superRefine((s, ctx) => {
  const want = dbServerName(s.spec.database.metadata.name, s.spec.host_id);
  if (s.metadata.name !== want) {
    ctx.addIssue({ code: "custom", path: ["metadata", "name"], message: `must be "${want}" (database name @ host id)` });
  }
});

export type DatabaseServer = z.output<typeof dbServerSchema>;
export type DatabaseServerInput = z.input<typeof dbServerSchema>;

/** The name of the entry for database `db` served by host `hostId`. */
export function dbServerName(db: string, hostId: string): string {
  return `${db}@${hostId}`;
}

/** The database an entry announces, and its labels (static plus command results). */
export function dbServerDatabase(s: Pick<DatabaseServer, "spec">): { database: Database; labels: Record<string, string> } {
  return { database: s.spec.database, labels: databaseLabels(s.spec.database) };
}
