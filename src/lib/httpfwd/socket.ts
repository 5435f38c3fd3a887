/**
 * The transport under the HTTP parser: node's `http.Server` takes any Duplex
 * through `emit("connection")`, but reads a TCP or TLS socket through its
 * native handle, which skips bytes put back with `unshift` (the ones that came
 * with the stream header). This wrapper is a plain stream over the proxy's
 * stream (a tunnel channel or a socket), with the socket methods the server
 * calls: `setTimeout` as a real idle timer, the others passed on or no-ops.
 * The Application and Kubernetes Services both serve their streams through it.
 */
import { Duplex } from "node:stream";

type SocketLike = Duplex & { setNoDelay?: (v?: boolean) => unknown; setKeepAlive?: (v?: boolean, d?: number) => unknown };

export class StreamSocket extends Duplex {
  /** The client's address from the stream header (what the proxy saw). */
  readonly remoteAddress: string;
  private idleMs = 0;
  private idleTimer: NodeJS.Timeout | undefined;
  private pendingWrite: ((err?: Error | null) => void) | undefined;

  constructor(
    private readonly inner: SocketLike,
    remoteAddress: string,
  ) {
    super({ allowHalfOpen: true });
    this.remoteAddress = remoteAddress;
    inner.on("data", (chunk: Buffer) => {
      this.touch();
      if (!this.push(chunk)) inner.pause();
    });
    inner.once("end", () => this.push(null));
    inner.on("error", (e: Error) => this.destroy(e));
    inner.once("close", () => {
      this.flushPending(new Error("stream closed"));
      if (!this.destroyed) this.destroy();
    });
    inner.on("drain", () => this.flushPending(null));
  }

  override _read(): void {
    this.inner.resume();
  }

  override _write(chunk: Buffer, encoding: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.touch();
    if (this.inner.destroyed) cb(new Error("stream closed"));
    else if (this.inner.write(chunk, encoding)) cb();
    else this.pendingWrite = cb;
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.inner.end();
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    clearTimeout(this.idleTimer);
    this.flushPending(err ?? new Error("stream closed"));
    this.inner.destroy();
    cb(err);
  }

  /** Like `net.Socket#setTimeout`: 'timeout' after `ms` without a byte either way; 0 turns it off. */
  setTimeout(ms: number, cb?: () => void): this {
    if (cb) this.once("timeout", cb);
    this.idleMs = ms;
    this.touch();
    return this;
  }

  setNoDelay(v = true): this {
    this.inner.setNoDelay?.(v);
    return this;
  }

  setKeepAlive(v = false, delay = 0): this {
    this.inner.setKeepAlive?.(v, delay);
    return this;
  }

  ref(): this {
    return this;
  }

  unref(): this {
    return this;
  }

  private touch(): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    if (this.idleMs > 0 && !this.destroyed) {
      this.idleTimer = setTimeout(() => this.emit("timeout"), this.idleMs);
      this.idleTimer.unref();
    }
  }

  private flushPending(err: Error | null): void {
    const cb = this.pendingWrite;
    this.pendingWrite = undefined;
    cb?.(err);
  }
}
