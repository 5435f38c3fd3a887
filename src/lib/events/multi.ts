import { type Clock, systemClock } from "../../api/clock.ts";
import { prepareEvent } from "./event.ts";
import type { AuditEvent, AuditEventInput, AuditSink, AuditStore, SearchQuery, SearchResult } from "./types.ts";

export interface MultiAuditLogOptions {
  /** Stores every event and answers searches; its failure fails `emit`. */
  primary: AuditStore;
  /** Receive a copy of every event after the primary has stored it. */
  sinks: AuditSink[];
  clock?: Clock;
  /** Filled into events that do not name a cluster. */
  cluster?: string;
  /** A sink failed; the event is already in the primary, so `emit` still resolves. Default: a process warning. */
  onSinkError?: (err: unknown, event: AuditEvent) => void;
}

/** Fan-out: one primary log plus export sinks, each seeing the same uid, time and code. */
export class MultiAuditLog implements AuditStore {
  private readonly primary: AuditStore;
  private readonly sinks: AuditSink[];
  private readonly clock: Clock;
  private readonly cluster: string | undefined;
  private readonly onSinkError: (err: unknown, event: AuditEvent) => void;

  constructor(opts: MultiAuditLogOptions) {
    this.primary = opts.primary;
    this.sinks = [...opts.sinks];
    this.clock = opts.clock ?? systemClock;
    this.cluster = opts.cluster;
    this.onSinkError =
      opts.onSinkError ??
      ((err, event) => {
        const msg = err instanceof Error ? err.message : String(err);
        process.emitWarning(`audit sink failed for event ${event.uid}: ${msg}`, "JumpgateAuditWarning");
      });
  }

  async emit(input: AuditEventInput): Promise<void> {
    await this.write(prepareEvent(input, this.clock, { cluster: this.cluster }));
  }

  async write(event: AuditEvent): Promise<void> {
    await this.primary.write(event);
    const results = await Promise.allSettled(this.sinks.map((s) => s.write(event)));
    for (const r of results) if (r.status === "rejected") this.onSinkError(r.reason, event);
  }

  search(query: SearchQuery): Promise<SearchResult> {
    return this.primary.search(query);
  }

  async close(): Promise<void> {
    const results = await Promise.allSettled([this.primary.close(), ...this.sinks.map((s) => s.close())]);
    const failed = results.find((r) => r.status === "rejected");
    if (failed !== undefined) throw failed.reason;
  }
}
