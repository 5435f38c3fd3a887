import net from "node:net";
import tls from "node:tls";
import { type Client, createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { ALPN, AUTH_SERVER_NAME } from "./constants.ts";
import { connectionProblem } from "./errors.ts";
import { AuthService } from "./gen/jumpgate/v1/auth_pb.ts";
import { fromConnectError } from "./rpc-errors.ts";

export type AuthClient = Client<typeof AuthService> & { close(): void };

export interface ClientTlsIdentity {
  key: string;
  cert: string;
  /** CAs that sign the Auth Service's certificate (the host CA). */
  cas: string[];
}

export interface AuthClientOptions {
  /** host:port of the Auth API, or of the proxy when `viaProxy` is set. */
  addr: string;
  identity?: ClientTlsIdentity;
  /** Without an identity (joining), trust these CAs for Auth's certificate; absent: trust is pinned later. */
  cas?: string[];
  /** Reach Auth through the proxy's `jumpgate-auth` ALPN route (TLS inside TLS). */
  viaProxy?: { insecure: boolean; proxyCas?: string[] };
  timeoutMs?: number;
}

function splitHostPort(addr: string): { host: string; port: number } {
  const i = addr.lastIndexOf(":");
  const host = addr.slice(0, i).replace(/^\[|\]$/g, "");
  const port = Number(addr.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port) || port <= 0 || port > 65535) {
    throw connectionProblem(`"${addr}" is not a HOST:PORT address`);
  }
  return { host, port };
}

export function createAuthClient(opts: AuthClientOptions): AuthClient {
  const { host, port } = splitHostPort(opts.addr);
  const cas = opts.identity?.cas ?? opts.cas;
  const inner: tls.ConnectionOptions = {
    servername: AUTH_SERVER_NAME,
    ALPNProtocols: ["h2"],
    ...(opts.identity ? { key: opts.identity.key, cert: opts.identity.cert } : {}),
    ...(cas && cas.length > 0 ? { ca: cas } : { rejectUnauthorized: false }),
  };
  const via = opts.viaProxy;
  const createConnection = via
    ? () => {
        const outer = tls.connect({
          host,
          port,
          servername: net.isIP(host) ? "" : host,
          ALPNProtocols: [ALPN.auth],
          ...(via.insecure ? { rejectUnauthorized: false } : via.proxyCas ? { ca: via.proxyCas } : {}),
        });
        return tls.connect({ ...inner, socket: outer });
      }
    : () => tls.connect({ ...inner, host, port });
  const baseUrl = `https://${AUTH_SERVER_NAME}`;
  const sessionManager = new Http2SessionManager(baseUrl, { idleConnectionTimeoutMs: 60_000 }, { createConnection });
  const transport = createGrpcTransport({ baseUrl, sessionManager, defaultTimeoutMs: opts.timeoutMs ?? 30_000 });
  const client = withJumpgateErrors(createClient(AuthService, transport));
  return Object.assign(client, { close: () => sessionManager.abort() });
}

/** Every call fails with the JumpgateError the server raised, not a transport type. */
function withJumpgateErrors<T extends object>(client: T): T {
  return new Proxy(client, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (typeof v !== "function") return v;
      return (...args: unknown[]) => {
        const r = v.apply(target, args);
        if (r instanceof Promise) return r.catch((e: unknown) => Promise.reject(fromConnectError(e)));
        if (r && typeof r === "object" && Symbol.asyncIterator in r) return mapStream(r as AsyncIterable<unknown>);
        return r;
      };
    },
  });
}

async function* mapStream<T>(it: AsyncIterable<T>): AsyncGenerator<T> {
  try {
    yield* it;
  } catch (e) {
    throw fromConnectError(e);
  }
}
