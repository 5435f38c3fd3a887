import { execFile } from "node:child_process";
import type { Logger } from "pino";

export interface CommandLabelSpec {
  name: string;
  command: string[];
  periodMs: number;
}

export interface CommandLabelState {
  command: string[];
  periodMs: number;
  result?: string;
}

const TIMEOUT_MS = 10_000;
const MAX_RESULT = 256;

/**
 * Labels computed by running a command every period (Teleport's command
 * labels): the trimmed first line of stdout, or "<error>" if it fails.
 */
export class CommandLabels {
  private readonly state = new Map<string, CommandLabelState>();
  private readonly timers: NodeJS.Timeout[] = [];

  constructor(
    private readonly specs: CommandLabelSpec[],
    private readonly log: Logger,
    private readonly onChange: () => void = () => undefined,
  ) {
    for (const s of specs) this.state.set(s.name, { command: s.command, periodMs: s.periodMs });
  }

  /** Runs every command once (so the first heartbeat has results), then on its period. */
  async start(): Promise<void> {
    await Promise.all(this.specs.map((s) => this.runOne(s)));
    for (const s of this.specs) {
      const t = setInterval(() => void this.runOne(s).then(() => this.onChange()), Math.max(1000, s.periodMs));
      t.unref();
      this.timers.push(t);
    }
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
  }

  current(): Record<string, CommandLabelState> {
    return Object.fromEntries(this.state);
  }

  private runOne(s: CommandLabelSpec): Promise<void> {
    const [file, ...args] = s.command;
    return new Promise((resolve) => {
      if (!file) return resolve();
      execFile(file, args, { timeout: TIMEOUT_MS, maxBuffer: 64 * 1024 }, (err, stdout) => {
        const result = err ? "<error>" : (stdout.split("\n")[0] ?? "").trim().slice(0, MAX_RESULT);
        if (err) this.log.warn({ label: s.name, err: err.message }, "command label failed");
        this.state.set(s.name, { command: s.command, periodMs: s.periodMs, result });
        resolve();
      });
    });
  }
}
