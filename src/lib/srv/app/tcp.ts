/**
 * TCP apps (`tcp://HOST:PORT`): one connection to the target per stream, the
 * bytes relayed both ways with backpressure, half-closes passed on, and both
 * ends torn down together when either fails.
 */
import net from "node:net";
import { type Duplex, pipeline } from "node:stream";
import { connectionProblem } from "../../../api/errors.ts";

/** Connects to a `tcp://` URI within the deadline. */
export function connectTcp(uri: string, timeoutMs: number): Promise<net.Socket> {
  const u = new URL(uri);
  const host = u.hostname.startsWith("[") ? u.hostname.slice(1, -1) : u.hostname;
  const port = Number(u.port);
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port });
    const timer = setTimeout(() => {
      s.destroy();
      reject(connectionProblem(`app ${u.host} did not accept a connection within ${timeoutMs} ms`));
    }, timeoutMs);
    s.once("connect", () => {
      clearTimeout(timer);
      s.off("error", onError);
      resolve(s);
    });
    const onError = (e: Error & { code?: string }) => {
      clearTimeout(timer);
      reject(connectionProblem(`app ${u.host} is not reachable: ${e.code ?? e.message}`));
    };
    s.once("error", onError);
  });
}

export interface RelayResult {
  /** Bytes from the client to the app, and back. */
  bytesIn: number;
  bytesOut: number;
}

/** Relays until both directions are done (or one fails); both streams are destroyed at the end. */
export function relay(client: Duplex, app: net.Socket): Promise<RelayResult> {
  return new Promise((resolve) => {
    const counts: RelayResult = { bytesIn: 0, bytesOut: 0 };
    client.on("data", (c: Buffer) => {
      counts.bytesIn += c.length;
    });
    app.on("data", (c: Buffer) => {
      counts.bytesOut += c.length;
    });
    app.setNoDelay(true);
    (client as { setNoDelay?: (v: boolean) => void }).setNoDelay?.(true);
    let open = 2;
    let settled = false;
    const finish = (err?: Error | null) => {
      if (err) {
        client.destroy();
        app.destroy();
      }
      if (err || --open === 0) {
        if (settled) return;
        settled = true;
        client.destroy();
        app.destroy();
        resolve(counts);
      }
    };
    pipeline(client, app, (e) => finish(e));
    pipeline(app, client, (e) => finish(e));
  });
}
