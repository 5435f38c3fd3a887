import type { Logger } from "pino";
import type { Clock } from "../../../api/clock.ts";
import type { StoredResource } from "../../../api/resource.ts";
import { formatDuration } from "../../../api/resources/index.ts";

export const HEARTBEAT_INTERVAL_MS = 60_000;
export const HEARTBEAT_TTL_MS = 10 * 60_000;

/**
 * Announces a resource to Auth every interval with an expiry, so a host that
 * vanishes drops out of listings on its own (DESIGN §5). Writes right away on
 * start and whenever `poke()` says something changed.
 */
export class Heartbeat {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly o: {
      build: () => StoredResource;
      announce: (r: StoredResource) => Promise<void>;
      clock: Clock;
      log: Logger;
      intervalMs?: number;
      ttlMs?: number;
    },
  ) {}

  async start(): Promise<void> {
    await this.beat();
    this.timer = setInterval(() => this.poke(), this.o.intervalMs ?? HEARTBEAT_INTERVAL_MS);
    this.timer.unref();
  }

  poke(): void {
    if (this.stopped || this.running) return;
    this.running = this.beat().finally(() => {
      this.running = undefined;
    });
  }

  private async beat(): Promise<void> {
    const r = this.o.build();
    r.metadata.expires = new Date(this.o.clock.now().getTime() + (this.o.ttlMs ?? HEARTBEAT_TTL_MS)).toISOString();
    try {
      await this.o.announce(r);
    } catch (e) {
      this.o.log.warn({ err: e instanceof Error ? e.message : String(e) }, "heartbeat failed; will retry");
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
  }
}

export function periodText(ms: number): string {
  return formatDuration(ms);
}
