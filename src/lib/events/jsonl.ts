import { type FileHandle, mkdir, open } from "node:fs/promises";
import { dirname } from "node:path";
import { JumpgateError } from "../../api/errors.ts";
import { serializeEvent } from "./event.ts";
import type { AuditEvent, AuditSink } from "./types.ts";

export interface JsonlSinkOptions {
  /** File to append to; created with mode 0600 when missing. */
  path: string;
  /** fsync after every line (slower; the primary log is the durable one). Default false. */
  fsync?: boolean;
}

/**
 * Appends every event as one JSON line, for export to a SIEM (Filebeat, Vector,
 * fluentd tail it). Lines are written in emit order, one write per line.
 */
export class JsonlSink implements AuditSink {
  private tail: Promise<void> = Promise.resolve();
  private closed = false;

  private constructor(
    private readonly fh: FileHandle,
    private readonly fsync: boolean,
  ) {}

  static async open(opts: JsonlSinkOptions): Promise<JsonlSink> {
    await mkdir(dirname(opts.path), { recursive: true, mode: 0o700 });
    const fh = await open(opts.path, "a", 0o600);
    return new JsonlSink(fh, opts.fsync ?? false);
  }

  write(event: AuditEvent): Promise<void> {
    if (this.closed) return Promise.reject(new JumpgateError("internal", "audit export file is closed"));
    const line = `${serializeEvent(event)}\n`;
    const p = this.tail.then(async () => {
      await this.fh.write(line);
      if (this.fsync) await this.fh.datasync();
    });
    this.tail = p.catch(() => undefined);
    return p;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.tail;
    await this.fh.close();
  }
}
