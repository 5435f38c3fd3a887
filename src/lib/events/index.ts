/**
 * The audit log: append-only events with stable codes, searchable by time;
 * and session recording (`./recording/`: format, spool recorder, uploader, player).
 * Import this folder only through this file.
 */
import { join } from "node:path";
import type { Clock } from "../../api/clock.ts";
import { badParameter } from "../../api/errors.ts";
import { JsonlSink } from "./jsonl.ts";
import { MemoryAuditLog } from "./memory.ts";
import { MultiAuditLog } from "./multi.ts";
import { PostgresAuditLog } from "./postgres.ts";
import { SqliteAuditLog } from "./sqlite.ts";
import type { AuditEvent, AuditLog, AuditSink, AuditStore } from "./types.ts";

export {
  EVENT_CODES,
  type EventCodeEntry,
  type EventName,
  eventCode,
  isEventName,
  UNKNOWN_EVENT_CODE,
} from "./codes.ts";
export { MAX_EVENT_BYTES, prepareEvent, serializeEvent } from "./event.ts";
export { JsonlSink, type JsonlSinkOptions } from "./jsonl.ts";
export { MemoryAuditLog } from "./memory.ts";
export { MultiAuditLog, type MultiAuditLogOptions } from "./multi.ts";
export { PostgresAuditLog, type PostgresAuditLogOptions } from "./postgres.ts";
export * from "./recording/index.ts";
export { redact, secretFingerprint, secretKeyKind } from "./redact.ts";
export { SqliteAuditLog, type SqliteAuditLogOptions } from "./sqlite.ts";
export type {
  AuditEvent,
  AuditEventInput,
  AuditLog,
  AuditSink,
  AuditStore,
  SearchOrder,
  SearchQuery,
  SearchResult,
} from "./types.ts";

export type AuditLogConfig = { type: "memory" } | { type: "sqlite"; path: string } | { type: "postgres"; connString: string; table?: string };

export interface OpenAuditLogOptions {
  clock?: Clock;
  /** Filled into events that do not name a cluster. */
  cluster?: string;
  /** Also append every event to these JSON-lines files. */
  jsonlPaths?: readonly string[];
  /** Further sinks to copy every event to. */
  sinks?: AuditSink[];
  onSinkError?: (err: unknown, event: AuditEvent) => void;
}

async function openStore(config: AuditLogConfig, opts: OpenAuditLogOptions): Promise<AuditStore> {
  const common = {
    ...(opts.clock === undefined ? {} : { clock: opts.clock }),
    ...(opts.cluster === undefined ? {} : { cluster: opts.cluster }),
  };
  switch (config.type) {
    case "memory":
      return new MemoryAuditLog(common);
    case "sqlite":
      return new SqliteAuditLog({ path: config.path, ...common });
    case "postgres":
      return PostgresAuditLog.open({
        connString: config.connString,
        ...(config.table === undefined ? {} : { table: config.table }),
        ...common,
      });
  }
}

/** Opens the configured audit log, wrapped in a fan-out when sinks are asked for. */
export async function openAuditLog(config: AuditLogConfig, opts: OpenAuditLogOptions = {}): Promise<AuditLog> {
  const primary = await openStore(config, opts);
  const sinks = [...(opts.sinks ?? [])];
  const opened: JsonlSink[] = [];
  try {
    for (const path of opts.jsonlPaths ?? []) opened.push(await JsonlSink.open({ path }));
  } catch (e) {
    await Promise.allSettled([primary.close(), ...opened.map((s) => s.close())]);
    throw e;
  }
  sinks.push(...opened);
  if (sinks.length === 0) return primary;
  return new MultiAuditLog({
    primary,
    sinks,
    ...(opts.clock === undefined ? {} : { clock: opts.clock }),
    ...(opts.cluster === undefined ? {} : { cluster: opts.cluster }),
    ...(opts.onSinkError === undefined ? {} : { onSinkError: opts.onSinkError }),
  });
}

/**
 * Reads `auth_service.storage.audit_events_uri` entries: `sqlite://PATH`
 * (empty PATH: `<dataDir>/events.db`), `postgres://…`/`postgresql://…`,
 * `memory://`, and `jsonl://PATH` or `file://PATH` for export files. At most
 * one store; without one, SQLite under the data directory.
 */
export function auditConfigFromUris(uris: readonly string[], dataDir: string): { store: AuditLogConfig; jsonlPaths: string[] } {
  let store: AuditLogConfig | undefined;
  const jsonlPaths: string[] = [];
  const setStore = (c: AuditLogConfig, uri: string) => {
    if (store !== undefined) throw badParameter(`audit_events_uri: more than one audit store ("${uri}")`);
    store = c;
  };
  for (const uri of uris) {
    const m = /^([a-z][a-z0-9+.-]*):\/\/(.*)$/i.exec(uri);
    const scheme = m?.[1]?.toLowerCase();
    const rest = m?.[2] ?? "";
    if (scheme === "sqlite") setStore({ type: "sqlite", path: rest === "" ? join(dataDir, "events.db") : rest }, uri);
    else if (scheme === "postgres" || scheme === "postgresql") setStore({ type: "postgres", connString: uri }, uri);
    else if (scheme === "memory") setStore({ type: "memory" }, uri);
    else if ((scheme === "jsonl" || scheme === "file") && rest !== "") jsonlPaths.push(rest);
    else throw badParameter(`audit_events_uri: unsupported "${uri}" (sqlite://, postgres://, memory://, jsonl://)`);
  }
  return { store: store ?? { type: "sqlite", path: join(dataDir, "events.db") }, jsonlPaths };
}
