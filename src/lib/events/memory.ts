import { type Clock, systemClock } from "../../api/clock.ts";
import { encodeCursor, isAfter, normalizeQuery, prepareEvent } from "./event.ts";
import type { AuditEvent, AuditEventInput, AuditStore, SearchQuery, SearchResult } from "./types.ts";

interface Row {
  seq: number;
  t: number;
  event: AuditEvent;
}

/** An audit log held in memory, for tests and throwaway demos. */
export class MemoryAuditLog implements AuditStore {
  private readonly rows: Row[] = [];
  private readonly uids = new Set<string>();
  private seq = 0;
  private readonly clock: Clock;
  private readonly cluster: string | undefined;

  /** `cluster` is filled into events that do not name one. */
  constructor(opts: { clock?: Clock; cluster?: string } = {}) {
    this.clock = opts.clock ?? systemClock;
    this.cluster = opts.cluster;
  }

  async emit(input: AuditEventInput): Promise<void> {
    await this.write(prepareEvent(input, this.clock, { cluster: this.cluster }));
  }

  async write(event: AuditEvent): Promise<void> {
    if (this.uids.has(event.uid)) return;
    this.uids.add(event.uid);
    this.seq += 1;
    // Stored as a copy so callers cannot change history through their reference.
    this.rows.push({ seq: this.seq, t: event.time.getTime(), event: structuredClone(event) });
  }

  async search(query: SearchQuery): Promise<SearchResult> {
    const q = normalizeQuery(query);
    const types = q.types === undefined ? undefined : new Set(q.types);
    const matches = this.rows.filter(
      (r) =>
        r.t >= q.fromMs &&
        r.t <= q.toMs &&
        (types === undefined || types.has(r.event.event)) &&
        (q.user === undefined || r.event.user === q.user) &&
        (q.after === undefined || isAfter(q.after, r.t, r.seq, q.order)),
    );
    const dir = q.order === "asc" ? 1 : -1;
    matches.sort((a, b) => dir * (a.t - b.t || a.seq - b.seq));
    const page = matches.slice(0, q.limit);
    const last = page.at(-1);
    const result: SearchResult = { events: page.map((r) => structuredClone(r.event)) };
    if (matches.length > q.limit && last !== undefined) result.nextKey = encodeCursor({ t: last.t, s: last.seq });
    return result;
  }

  async close(): Promise<void> {}
}
