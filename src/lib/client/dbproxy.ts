import net from "node:net";
import type { Duplex } from "node:stream";
import type tls from "node:tls";
import { ALPN } from "../../api/constants.ts";
import { classifyPgPreStartup, dbRefusal, dbSni, sendDbRefusal } from "../../api/dbwire.ts";
import { badParameter } from "../../api/errors.ts";
import type { Profile } from "./profile.ts";
import { type DialReuse, dialProxyRoute, newDialReuse, splitHostPort } from "./proxydial.ts";

export type { DialReuse } from "./proxydial.ts";

/** What a local database proxy needs to reach one database. */
export interface LocalDbProxyOptions {
  profile: Pick<Profile, "proxy" | "insecure">;
  database: { name: string; protocol: "postgres" | "mysql" };
  /** Local port; 0 or absent: any free port. */
  port?: number;
  /** Local address to listen on; default 127.0.0.1. */
  host?: string;
  /**
   * Wrap each connection: ALPN `jumpgate-postgres`/`jumpgate-mysql` to the
   * proxy, then TLS with the database certificate inside, so clients connect
   * without certificate options. Without it the listener relays raw TCP and
   * the client runs TLS with its certificate itself (Postgres only).
   */
  tunnel: boolean;
  /** The database certificate (from `jsh db login`) and the cluster's host CA certificates (to verify the proxy). */
  credentials?: { cert: string; key: string; hostCas: string[] };
  /** CAs for the proxy's public certificate when it is not publicly trusted. */
  proxyCas?: string[];
  /** Called for each connection that could not be set up (the client has been told). */
  onError?(e: Error): void;
}

export interface LocalDbProxy {
  host: string;
  port: number;
  close(): Promise<void>;
}

/** What a test passes to successive `dialDatabase` calls to see them resume, as one `jsh proxy db` does. */
export function dialReuseForTests(): DialReuse {
  return newDialReuse();
}

/**
 * Opens one authenticated stream to the database through the proxy: TLS to the
 * proxy with the database ALPN route, then TLS inside with the user's database
 * certificate (the proxy verifies it against the user CA). Resolves once both
 * handshakes are done.
 */
export function dialDatabase(
  o: Pick<LocalDbProxyOptions, "profile" | "database" | "proxyCas"> & { credentials: NonNullable<LocalDbProxyOptions["credentials"]> },
  reuse: DialReuse = newDialReuse(),
): Promise<tls.TLSSocket> {
  return dialProxyRoute(
    {
      profile: o.profile,
      alpn: o.database.protocol === "mysql" ? ALPN.mysql : ALPN.postgres,
      // Names the database meant: the proxy refuses a certificate for another one.
      servername: dbSni(o.database.name),
      credentials: o.credentials,
      proxyCas: o.proxyCas,
    },
    reuse,
  );
}

/**
 * `jsh proxy db`: a local listener for unmodified database clients. A Postgres
 * client's SSLRequest or GSSENCRequest gets `N` (the local hop is plaintext on
 * loopback; the hop to the proxy is TLS with the user's certificate).
 */
export async function startLocalDbProxy(o: LocalDbProxyOptions): Promise<LocalDbProxy> {
  if (o.tunnel && !o.credentials) throw badParameter(`no database certificate for ${o.database.name}: run jsh db login ${o.database.name}`);
  if (!o.tunnel && o.database.protocol === "mysql")
    throw badParameter("MySQL clients need --tunnel (they cannot present the certificate to the proxy themselves)");
  const sockets = new Set<Duplex>();
  const reuse = newDialReuse();
  const server = net.createServer((local) => {
    sockets.add(local);
    local.once("close", () => sockets.delete(local));
    local.setNoDelay(true);
    local.on("error", () => local.destroy());
    void serveLocal(local, o, reuse).catch((e: unknown) => {
      const err = e instanceof Error ? e : new Error(String(e));
      o.onError?.(err);
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

async function serveLocal(local: net.Socket, o: LocalDbProxyOptions, reuse: DialReuse): Promise<void> {
  let first: Buffer = Buffer.alloc(0);
  if (o.database.protocol === "postgres" && o.tunnel) first = await pgNegotiateLocally(local);
  let upstream: Duplex;
  try {
    if (o.tunnel && o.credentials) {
      upstream = await dialDatabase({ ...o, credentials: o.credentials }, reuse);
    } else {
      const { host, port } = splitHostPort(o.profile.proxy);
      upstream = await new Promise<net.Socket>((resolve, reject) => {
        const s = net.connect({ host, port }, () => {
          s.off("error", reject);
          resolve(s);
        });
        s.once("error", reject);
      });
    }
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    const message = `cannot reach database ${o.database.name} through ${o.profile.proxy}: ${why}`;
    // A MySQL client waits for a greeting: refuse its login so it prints the reason (ERROR 1045), not a protocol error.
    if (o.database.protocol === "mysql") sendDbRefusal(local, "mysql", message);
    else local.end(dbRefusal(o.database.protocol, message));
    throw e;
  }
  const u = upstream as Duplex & { setNoDelay?: (v: boolean) => unknown };
  u.setNoDelay?.(true);
  if (first.length > 0) upstream.write(first);
  const end = () => {
    local.destroy();
    upstream.destroy();
  };
  upstream.on("error", end);
  local.on("error", end);
  local.pipe(upstream);
  upstream.pipe(local);
  upstream.once("close", () => local.end());
  local.once("close", () => upstream.end());
  local.resume();
}

/**
 * Answers `N` to SSLRequest/GSSENCRequest until the client sends its
 * StartupMessage (or CancelRequest); resolves with the bytes to forward.
 */
function pgNegotiateLocally(local: net.Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => finish(new Error("the client sent no startup message")), 30_000);
    const onEnd = () => finish(new Error("the client closed the connection"));
    const finish = (err: Error | undefined, out?: Buffer) => {
      clearTimeout(timer);
      local.off("data", onData);
      local.off("end", onEnd);
      local.pause();
      if (err) {
        local.destroy();
        reject(err);
      } else resolve(out ?? Buffer.alloc(0));
    };
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        const c = classifyPgPreStartup(buf);
        if (c.kind === "need-more") return;
        if (c.kind === "ssl" || c.kind === "gssenc") {
          buf = buf.subarray(8);
          local.write("N");
          continue;
        }
        // StartupMessage, CancelRequest, or something the engine will refuse: forward it as it is.
        finish(undefined, buf);
        return;
      }
    };
    local.on("data", onData);
    local.once("end", onEnd);
  });
}
