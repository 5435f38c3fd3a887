/**
 * `jsh proxy app`: a local listener on loopback whose every connection becomes
 * one authenticated stream to an app through the proxy (ALPN `jumpgate-app`,
 * then TLS inside with the user's app certificate and SNI `appSni(NAME)`).
 * Bytes are relayed as they are, so HTTP apps (the Application Service speaks
 * HTTP to them) and TCP apps work alike.
 *
 * A refusal after the handshakes (the certificate's route, locks, roles) is
 * a TLS alert, one line `ERROR: <reason>` followed by the end of the stream,
 * or the end of the stream before any answer; each is reported through
 * `onError`, and the listener keeps serving.
 */
import net from "node:net";
import type { Duplex } from "node:stream";
import type tls from "node:tls";
import { APP_ALPN, appSni } from "../../api/appwire.ts";
import { connectionProblem } from "../../api/errors.ts";
import type { Profile } from "./profile.ts";
import { type DialReuse, dialProxyRoute, newDialReuse, type RouteCredentials } from "./proxydial.ts";

export interface LocalAppProxyOptions {
  profile: Pick<Profile, "proxy" | "insecure">;
  /** The app's name. */
  app: string;
  /** Local port; 0 or absent: any free port. */
  port?: number;
  /** Local address to listen on; default 127.0.0.1. */
  host?: string;
  /**
   * The app certificate, its key and the host CAs, asked for on each new
   * connection: a caller may log in again when the certificate nears expiry.
   */
  credentials(): RouteCredentials | Promise<RouteCredentials>;
  /** CAs for the proxy's public certificate when it is not publicly trusted. */
  proxyCas?: string[];
  /** Called for each connection that could not be set up or that the proxy refused (the listener keeps serving). */
  onError?(e: Error): void;
}

export interface LocalAppProxy {
  host: string;
  port: number;
  close(): Promise<void>;
}

/** The largest answer read as a refusal line; anything longer is the app's own data. */
const MAX_REFUSAL_BYTES = 1024;

/** The reason in a refusal (`ERROR: reason`, one line), or undefined when the bytes are something else. */
export function refusalReason(bytes: Buffer): string | undefined {
  if (bytes.length === 0 || bytes.length > MAX_REFUSAL_BYTES) return undefined;
  const m = /^ERROR: ([^\r\n]+)\r?\n?$/.exec(bytes.toString("utf8"));
  return m?.[1]?.trim() || undefined;
}

/** One authenticated stream to app `o.app` through the proxy; resolves once both TLS handshakes are done. */
export function dialApp(
  o: Pick<LocalAppProxyOptions, "profile" | "app" | "proxyCas"> & { credentials: RouteCredentials },
  reuse: DialReuse = newDialReuse(),
): Promise<tls.TLSSocket> {
  return dialProxyRoute({ profile: o.profile, alpn: APP_ALPN, servername: appSni(o.app), credentials: o.credentials, proxyCas: o.proxyCas }, reuse);
}

export async function startLocalAppProxy(o: LocalAppProxyOptions): Promise<LocalAppProxy> {
  const sockets = new Set<Duplex>();
  const reuse = newDialReuse();
  const server = net.createServer({ pauseOnConnect: true }, (local) => {
    sockets.add(local);
    local.once("close", () => sockets.delete(local));
    local.setNoDelay(true);
    local.on("error", () => local.destroy());
    void serveLocal(local, o, reuse, sockets).catch((e: unknown) => {
      o.onError?.(e instanceof Error ? e : new Error(String(e)));
    });
  });
  const host = o.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const addr = server.address() as net.AddressInfo;
  return {
    host,
    port: addr.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}

async function serveLocal(local: net.Socket, o: LocalAppProxyOptions, reuse: DialReuse, sockets: Set<Duplex>): Promise<void> {
  let upstream: tls.TLSSocket;
  try {
    upstream = await dialApp({ ...o, credentials: await o.credentials() }, reuse);
  } catch (e) {
    // Close the local side cleanly (not a reset): what it sent is read and dropped.
    local.on("data", () => undefined);
    local.resume();
    local.end();
    const why = e instanceof Error ? e.message : String(e);
    throw connectionProblem(`cannot reach app ${o.app} through ${o.profile.proxy}: ${why}`);
  }
  if (local.destroyed) {
    upstream.destroy();
    return;
  }
  upstream.setNoDelay(true);
  // The upstream's socket is closed with the local one (close() destroys the tracked local sockets).
  sockets.add(upstream);
  upstream.once("close", () => sockets.delete(upstream));

  // Keep the first bytes the proxy sends, to tell a refusal line from the app's data.
  const first: Buffer[] = [];
  let firstBytes = 0;
  upstream.on("data", (chunk: Buffer) => {
    if (firstBytes <= MAX_REFUSAL_BYTES) first.push(chunk);
    firstBytes += chunk.length;
  });
  let reported = false;
  const report = (message: string) => {
    if (reported) return;
    reported = true;
    o.onError?.(connectionProblem(message));
  };
  let localEnded = false;
  local.once("end", () => {
    localEnded = true;
  });
  upstream.once("end", () => {
    const reason = refusalReason(Buffer.concat(first));
    if (reason) report(`the proxy refused the connection to app ${o.app}: ${reason}`);
    // Closed before any answer and before the client was done: the proxy refuses that way (TCP has no place for a message).
    else if (firstBytes === 0 && !localEnded) {
      report(
        `the proxy closed the connection to app ${o.app} without an answer: it refused the certificate, or the app could not be reached (try: jsh apps login ${o.app})`,
      );
    }
  });
  upstream.on("error", (e: NodeJS.ErrnoException) => {
    // A TLS alert (a refused certificate arrives after the client's handshake under TLS 1.3); resets are the peers' own business.
    if (e.code?.startsWith("ERR_SSL")) report(`the proxy refused the connection to app ${o.app}: ${e.message}`);
    local.destroy();
    upstream.destroy();
  });
  local.on("error", () => upstream.destroy());
  local.pipe(upstream);
  upstream.pipe(local);
  upstream.once("close", () => local.end());
  local.once("close", () => upstream.end());
  local.resume();
}
