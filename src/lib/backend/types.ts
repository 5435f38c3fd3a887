/**
 * The storage contract (DESIGN §4). Keys are hierarchical strings ("/users/alice"),
 * values are bytes, every write gets a new cluster-wide revision.
 */
export interface Item {
  key: string;
  value: Buffer;
  /** Absent: never expires. */
  expires?: Date | undefined;
  /** Revision of the write that produced this value. */
  revision: number;
}

export interface ItemInput {
  key: string;
  value: Buffer;
  expires?: Date | undefined;
}

/** Either a prefix, or a half-open key range [start, end). */
export type KeyRange = { prefix: string } | { start: string; end: string };

export type RangeQuery = KeyRange & { limit?: number };

export interface BackendEvent {
  type: "put" | "delete";
  /** For deletes, value is empty and revision is the revision of the delete. */
  item: Item;
}

export interface WatchOptions {
  prefixes: string[];
  /** Replay every event with revision > fromRevision, then stream live ones. Absent: live only. */
  fromRevision?: number;
}

/** An async stream of events; close() ends it and releases resources. */
export interface Watcher extends AsyncIterable<BackendEvent> {
  close(): void;
}

export interface Backend {
  get(key: string): Promise<Item | undefined>;
  getRange(q: RangeQuery): Promise<Item[]>;
  /** Create or overwrite. */
  put(item: ItemInput): Promise<Item>;
  /** Fails with kind "already-exists" if the key is present. */
  create(item: ItemInput): Promise<Item>;
  /** Fails with kind "not-found" if the key is absent. */
  update(item: ItemInput): Promise<Item>;
  /** Replaces only if the current item still has the expected revision (or value); else kind "compare-failed". */
  compareAndSwap(expected: { key: string; revision?: number; value?: Buffer }, replace: ItemInput): Promise<Item>;
  /** Fails with kind "not-found" if absent. */
  delete(key: string): Promise<void>;
  deleteRange(r: KeyRange): Promise<number>;
  /** Moves an existing item's expiry; kind "not-found" if absent. */
  keepAlive(key: string, expires: Date | undefined): Promise<Item>;
  watch(opts: WatchOptions): Watcher;
  /** Highest revision written so far. */
  currentRevision(): Promise<number>;
  close(): Promise<void>;
}
