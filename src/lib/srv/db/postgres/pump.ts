/**
 * Reads a stream chunk by chunk with a deadline, for the login phases on
 * both sides, then hands the stream over to the relay with what it has not
 * consumed.
 */
import type { Duplex } from "node:stream";
import type { JumpgateError } from "../../../../api/errors.ts";

export class Pump {
  private chunks: Buffer[] = [];
  private failure: Error | undefined;
  private wake: (() => void) | undefined;
  private readonly timer: NodeJS.Timeout;
  private readonly onData = (d: Buffer) => {
    this.chunks.push(d);
    this.wake?.();
  };
  private readonly onEnd = (e?: Error) => {
    this.failure ??= this.closed(e instanceof Error ? e : undefined);
    this.wake?.();
  };

  /**
   * @param closed the error for a stream that ends or fails before the phase is over
   * @param late the error when the deadline passes
   */
  constructor(
    readonly stream: Duplex,
    timeoutMs: number,
    private readonly closed: (cause?: Error) => JumpgateError,
    late: () => JumpgateError,
  ) {
    stream.on("data", this.onData).on("error", this.onEnd).on("end", this.onEnd).on("close", this.onEnd);
    this.timer = setTimeout(() => {
      this.failure ??= late();
      this.wake?.();
    }, timeoutMs);
    stream.resume();
  }

  async chunk(): Promise<Buffer> {
    for (;;) {
      const c = this.chunks.shift();
      if (c !== undefined) return c;
      if (this.failure) throw this.failure;
      await new Promise<void>((r) => {
        this.wake = r;
      });
      this.wake = undefined;
    }
  }

  /** Stops reading (the stream is left paused); returns the bytes not yet consumed. */
  detach(): Buffer {
    clearTimeout(this.timer);
    this.stream.off("data", this.onData).off("error", this.onEnd).off("end", this.onEnd).off("close", this.onEnd);
    this.stream.pause();
    const rest = Buffer.concat(this.chunks);
    this.chunks = [];
    return rest;
  }
}
