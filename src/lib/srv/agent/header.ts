/**
 * Reading the header the proxy writes first on each reverse-tunnel stream
 * (`api/streamheader.ts`), with a deadline and a size cap, as a misbehaving
 * peer on the public port could otherwise hold a stream open or make it grow.
 */
import type { Duplex } from "node:stream";
import { badParameter } from "../../../api/errors.ts";
import type { HeaderParse } from "../../../api/streamheader.ts";

export interface StreamHeaderKind<T> {
  /** Pure: `api/kubewire.ts`'s `decodeKubeHeader` and the like. */
  decode(buf: Buffer): HeaderParse<T>;
  /** The largest JSON body accepted. */
  maxBytes: number;
  /** Names the header in errors ("kube stream header"). */
  label: string;
}

/**
 * Reads the header from the start of the stream. The stream is left paused
 * with whatever followed the header put back (`unshift`), so the next reader
 * sees the client's bytes from the first one.
 */
export function readStreamHeader<T>(stream: Duplex, kind: StreamHeaderKind<T>, timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    let buf: Buffer = Buffer.alloc(0);
    const done = (err: Error | undefined, h?: T, rest?: Buffer) => {
      clearTimeout(timer);
      stream.off("data", onData);
      stream.off("end", onEnd);
      stream.off("close", onEnd);
      stream.pause();
      if (rest && rest.length > 0) stream.unshift(rest);
      if (err || h === undefined) reject(err ?? new Error("no header"));
      else resolve(h);
    };
    const timer = setTimeout(() => done(badParameter(`timed out waiting for the ${kind.label}`)), timeoutMs);
    const onEnd = () => done(badParameter(`stream closed before the ${kind.label}`));
    const onData = (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      try {
        const r = kind.decode(buf);
        if (r.kind === "ok") done(undefined, r.header, buf.subarray(r.consumed));
        else if (buf.length > kind.maxBytes + 8) done(badParameter(`${kind.label} too large`));
      } catch (e) {
        done(e instanceof Error ? e : new Error(String(e)));
      }
    };
    stream.on("data", onData);
    stream.once("end", onEnd);
    stream.once("close", onEnd);
    stream.resume();
  });
}
