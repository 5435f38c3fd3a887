import { randomUUID } from "node:crypto";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import type { Logger } from "pino";

export type AgentEvent = Record<string, unknown> & { event: string };

/** Events sent to Auth concurrently in one round. */
const SEND_BATCH = 64;

/**
 * Audit events from an agent survive a lost connection to Auth and a restart:
 * each is appended to a spool file before it is sent, and the file keeps what
 * Auth has not confirmed. Each event carries its uid, so a resend after a crash
 * between send and truncate is stored once.
 */
export class AuditQueue {
  private pending: AgentEvent[] = [];
  private flushing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** The spool, open for appending (reopened after each rewrite): one write per event, not an open and a close too. */
  private fd: number | undefined;

  constructor(
    private readonly o: {
      path: string;
      send: (e: AgentEvent) => Promise<void>;
      /** Sends several events in one call (all stored or the call fails); without it, `send` each concurrently. */
      sendBatch?: (events: AgentEvent[]) => Promise<void>;
      log: Logger;
      retryMs?: number;
    },
  ) {
    mkdirSync(dirname(o.path), { recursive: true, mode: 0o700 });
    if (existsSync(o.path)) {
      for (const line of readFileSync(o.path, "utf8").split("\n")) {
        if (!line.trim()) continue;
        try {
          this.pending.push(JSON.parse(line) as AgentEvent);
        } catch {
          // A line cut by a crash mid-write is dropped; everything before it is kept.
        }
      }
    }
    this.timer = setInterval(() => this.flush(), o.retryMs ?? 5_000);
    this.timer.unref();
    if (this.pending.length > 0) this.flush();
  }

  emit(e: AgentEvent): void {
    const ev = { uid: randomUUID(), time: new Date().toISOString(), ...e };
    this.fd ??= openSync(this.o.path, "a", 0o600);
    writeSync(this.fd, `${JSON.stringify(ev)}\n`);
    this.pending.push(ev);
    this.flush();
  }

  /** Sends what is queued, in order; stops at the first failure and retries later. */
  flush(): Promise<void> {
    this.flushing ??= this.drain().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  /**
   * Sends in batches of concurrent calls (Auth commits concurrent events in one
   * transaction), and rewrites the spool once it has caught up rather than
   * after every event: at thousands of events a second (database queries)
   * one-at-a-time sends and rewrites fell behind and cost the agent its CPU.
   * A batch that fails part-way is resent whole; Auth stores each uid once.
   */
  private async drain(): Promise<void> {
    let sent = 0;
    try {
      while (sent < this.pending.length) {
        const batch = this.pending.slice(sent, sent + SEND_BATCH);
        if (this.o.sendBatch && batch.length > 1) await this.o.sendBatch(batch);
        else await Promise.all(batch.map((ev) => this.o.send(ev)));
        sent += batch.length;
      }
    } catch (e) {
      this.o.log.debug({ err: e instanceof Error ? e.message : String(e) }, "audit events queued until Auth is reachable");
    }
    if (sent === 0) return;
    this.pending = this.pending.slice(sent);
    const tmp = `${this.o.path}.tmp`;
    writeFileSync(tmp, this.pending.map((p) => `${JSON.stringify(p)}\n`).join(""), { mode: 0o600 });
    renameSync(tmp, this.o.path);
    this.closeSpool();
  }

  size(): number {
    return this.pending.length;
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.flush();
    this.closeSpool();
  }

  private closeSpool(): void {
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    closeSync(fd);
  }
}
