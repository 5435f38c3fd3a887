import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, statSync, writeSync } from "node:fs";
import { join } from "node:path";
import { badParameter, notFound } from "../../api/errors.ts";

export interface RecordingMeta {
  [field: string]: unknown;
}

export interface RecordingInfo {
  sessionId: string;
  metadata: RecordingMeta;
  size: number;
  complete: boolean;
  updated: Date;
}

const SESSION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const MAX_PART_BYTES = 4 * 1024 * 1024;

/**
 * Auth's recording storage on local disk: one append-only file per session plus
 * its metadata. Uploads name their byte offset, so a part resent after a lost
 * connection is taken once, and a gap is refused with the size Auth holds.
 */
export class RecordingStore {
  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  private paths(id: string) {
    if (!SESSION_ID.test(id)) throw badParameter(`"${id}" is not a session ID`);
    return { data: join(this.dir, `${id}.rec`), meta: join(this.dir, `${id}.json`) };
  }

  size(id: string): number {
    const p = this.paths(id);
    return existsSync(p.data) ? statSync(p.data).size : 0;
  }

  /** Appends the part of `data` beyond what is stored; returns the stored size. */
  append(id: string, offset: number, data: Buffer, complete: boolean, metadata?: RecordingMeta): number {
    if (data.length > MAX_PART_BYTES) throw badParameter(`a recording part may be at most ${MAX_PART_BYTES} bytes`);
    const p = this.paths(id);
    const current = this.size(id);
    const meta = this.readMeta(id);
    if (meta?.complete && (data.length > 0 || offset !== current)) {
      throw badParameter(`recording ${id} is already complete`);
    }
    if (offset > current) return current;
    const fresh = data.subarray(current - offset);
    if (fresh.length > 0) {
      const fd = openSync(p.data, "a", 0o600);
      try {
        writeSync(fd, fresh);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    }
    if (metadata || complete || !meta) {
      const next = { metadata: { ...(meta?.metadata ?? {}), ...(metadata ?? {}) }, complete: complete || !!meta?.complete };
      const fd = openSync(`${p.meta}.tmp`, "w", 0o600);
      try {
        writeSync(fd, JSON.stringify(next));
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      // rename is atomic: a crash leaves the old or the new metadata, never half.
      renameSync(`${p.meta}.tmp`, p.meta);
    }
    return current + fresh.length;
  }

  private readMeta(id: string): { metadata: RecordingMeta; complete: boolean } | undefined {
    const p = this.paths(id);
    if (!existsSync(p.meta)) return undefined;
    try {
      return JSON.parse(readFileSync(p.meta, "utf8"));
    } catch {
      return undefined;
    }
  }

  info(id: string): RecordingInfo {
    const meta = this.readMeta(id);
    const p = this.paths(id);
    if (!meta || !existsSync(p.data)) throw notFound(`recording ${id} not found`);
    return { sessionId: id, metadata: meta.metadata, size: this.size(id), complete: meta.complete, updated: statSync(p.data).mtime };
  }

  list(): RecordingInfo[] {
    return readdirSync(this.dir)
      .filter((f) => f.endsWith(".json"))
      .map((f) => f.slice(0, -5))
      .filter((id) => SESSION_ID.test(id))
      .flatMap((id) => {
        try {
          return [this.info(id)];
        } catch {
          return [];
        }
      });
  }

  /** Reads the recording in chunks, for streaming to a player. */
  *read(id: string, chunk = 256 * 1024): Generator<Buffer> {
    const p = this.paths(id);
    if (!existsSync(p.data)) throw notFound(`recording ${id} not found`);
    const data = readFileSync(p.data);
    for (let i = 0; i < data.length; i += chunk) yield data.subarray(i, i + chunk);
  }
}
