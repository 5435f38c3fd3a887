/**
 * Reads whole packets from a stream during the login exchanges (before the
 * relay takes over), with a deadline and a size cap. Bytes that arrive after
 * the last packet read are kept and handed back by `detach`, so nothing the
 * peer pipelined is lost when the relay starts.
 */
import type { Duplex } from "node:stream";
import { connectionProblem } from "../../../../api/errors.ts";
import { type MysqlPacket, PacketScanner, packet } from "./codec.ts";

export class PacketIO {
  private readonly scanner: PacketScanner;
  private readonly chunks: Buffer[] = [];
  private waiter: (() => void) | undefined;
  private failure: Error | undefined;
  private readonly onData = (c: Buffer) => {
    this.chunks.push(c);
    this.wake();
  };
  private readonly onEnd = () => this.fail(connectionProblem(`${this.peer} closed the connection`));
  private readonly onError = (e: Error) => this.fail(connectionProblem(`${this.peer}: ${e.message}`, e));

  constructor(
    readonly stream: Duplex,
    private readonly peer: string,
    maxPacketBytes: number,
  ) {
    this.scanner = new PacketScanner({ maxPacketBytes });
    stream.on("data", this.onData);
    stream.on("end", this.onEnd);
    stream.on("close", this.onEnd);
    stream.on("error", this.onError);
    // The Database Service pauses the client's stream once it has read the connection header.
    stream.resume();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  private fail(e: Error): void {
    this.failure ??= e;
    this.wake();
  }

  /** The next packet, or a `connection-problem` error when the peer closes or the deadline passes. */
  async read(deadline: number): Promise<MysqlPacket> {
    for (;;) {
      while (this.chunks.length > 0) {
        const c = this.chunks[0] ?? Buffer.alloc(0);
        const r = this.scanner.pushOne(c);
        if (r.consumed >= c.length) this.chunks.shift();
        else this.chunks[0] = c.subarray(r.consumed);
        if (r.packet !== undefined) return r.packet;
      }
      if (this.failure !== undefined) throw this.failure;
      const left = deadline - Date.now();
      if (left <= 0) throw connectionProblem(`timed out waiting for ${this.peer}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  }

  write(seq: number, payload: Buffer): void {
    this.stream.write(packet(seq, payload));
  }

  /** Stops reading; returns the bytes received but not yet read as packets. */
  detach(): Buffer {
    this.stream.off("data", this.onData);
    this.stream.off("end", this.onEnd);
    this.stream.off("close", this.onEnd);
    this.stream.off("error", this.onError);
    this.stream.pause();
    const rest = Buffer.concat(this.chunks);
    this.chunks.length = 0;
    return rest;
  }
}
