/** The backend's public surface (DESIGN §4). Other folders import only this file. */
import type { Clock } from "../../api/clock.ts";
import { badParameter } from "../../api/errors.ts";
import { MemoryBackend } from "./memory.ts";
import type { ExpirySweeper } from "./options.ts";
import { PostgresBackend } from "./postgres.ts";
import { SqliteBackend } from "./sqlite.ts";
import type { Backend } from "./types.ts";

export { compareKeys, prefixEnd } from "./keys.ts";
export { MemoryBackend, type MemoryBackendOptions } from "./memory.ts";
export type { CommonOptions, ExpirySweeper } from "./options.ts";
export { PostgresBackend, type PostgresBackendOptions } from "./postgres.ts";
export { SqliteBackend, type SqliteBackendOptions } from "./sqlite.ts";
export type {
  Backend,
  BackendEvent,
  Item,
  ItemInput,
  KeyRange,
  RangeQuery,
  Watcher,
  WatchOptions,
} from "./types.ts";
export { isRevisionCompacted, RevisionCompactedError } from "./watcher.ts";

export type BackendConfig = { type: "memory" } | { type: "sqlite"; path: string } | { type: "postgres"; connString: string };

/** Opens the backend a config names; expiry decisions use `clock`. */
export async function openBackend(config: BackendConfig, clock?: Clock): Promise<Backend & ExpirySweeper> {
  const common = clock === undefined ? {} : { clock };
  switch (config.type) {
    case "memory":
      return new MemoryBackend(common);
    case "sqlite":
      return new SqliteBackend({ ...common, path: config.path });
    case "postgres":
      return PostgresBackend.open({ ...common, connString: config.connString });
    default:
      throw badParameter(`unknown backend type "${(config as { type: unknown }).type}"`);
  }
}
