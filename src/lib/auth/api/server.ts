import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import type { TLSSocket } from "node:tls";
import { createContextKey, createContextValues } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { AuthService } from "../../../api/gen/jumpgate/v1/auth_pb.ts";
import type { AuthServer } from "../server.ts";
import { type Peer, peerFromSocket } from "./authz.ts";
import { installFastUnary } from "./grpc-unary.ts";
import { authServiceImpl } from "./handlers.ts";

export const peerKey = createContextKey<Peer>({ kind: "anonymous", addr: "?" });

/**
 * Unary methods served by the lean gRPC path (grpc-unary.ts) instead of
 * Connect's adapter: interceptors or options added to the adapter below do not
 * apply to them.
 */
export const FAST_METHODS = ["generateUserCerts", "generateHostCerts", "generateDatabaseCert"] as const;

/** The largest request message Auth reads; larger ones fail with resource-exhausted. */
export const MAX_REQUEST_BYTES = 4 * 1024 * 1024;

/** Responses smaller than this go uncompressed. */
export const COMPRESS_MIN_BYTES = 64 * 1024;

export interface AuthApiTls {
  key: string;
  cert: string;
  /** CAs whose client certificates are accepted (user and host CAs). */
  clientCas: string[];
}

export interface AuthApiServer {
  port: number;
  /** Swaps certificates (renewal, CA rotation) without dropping connections. */
  setTls(tls: AuthApiTls): void;
  close(): Promise<void>;
}

/**
 * The Auth API: gRPC over HTTP/2 with mutual TLS (DESIGN §7a). Certificates are
 * requested but not required, so that joining agents can call
 * RegisterUsingToken; every handler decides from the caller it resolves.
 */
export async function startAuthApi(opts: { server: AuthServer; host: string; port: number; tls: AuthApiTls }): Promise<AuthApiServer> {
  const impl = authServiceImpl(opts.server);
  const values = (socket: TLSSocket | undefined) => createContextValues().set(peerKey, peerFromSocket(socket));
  const handler = connectNodeAdapter({
    routes: (router) => router.service(AuthService, impl),
    contextValues: (req) => values(req.socket as TLSSocket),
    // Compress only big answers (lists, event searches). Certificates barely shrink
    // (keys and signatures are random), and gzip cost more CPU than signing them.
    compressMinBytes: COMPRESS_MIN_BYTES,
    // Connect's default is 4 GiB: one caller could make Auth buffer that much.
    // The largest legitimate request is a recording part (1 MiB by default).
    readMaxBytes: MAX_REQUEST_BYTES,
  });
  const secure = (t: AuthApiTls) => ({
    key: t.key,
    cert: t.cert,
    ca: t.clientCas,
    requestCert: true,
    rejectUnauthorized: false,
    minVersion: "TLSv1.2" as const,
  });
  const srv = http2.createSecureServer({ ...secure(opts.tls), allowHTTP1: false }, handler);
  // Certificate issuance skips Connect's per-call overhead (grpc-unary.ts).
  installFastUnary(srv, {
    service: AuthService,
    impl: impl as unknown as Record<string, unknown>,
    methods: FAST_METHODS,
    contextValues: (stream) => values(stream.session?.socket as TLSSocket | undefined),
  });
  srv.on("sessionError", () => undefined);
  const sessions = new Set<http2.ServerHttp2Session>();
  srv.on("session", (s) => {
    sessions.add(s);
    s.once("close", () => sessions.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    srv.once("error", reject);
    srv.listen(opts.port, opts.host, () => {
      srv.off("error", reject);
      resolve();
    });
  });
  return {
    port: (srv.address() as AddressInfo).port,
    setTls: (t) => srv.setSecureContext(secure(t)),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sessions) s.close();
        srv.close(() => resolve());
        setTimeout(() => {
          for (const s of sessions) s.destroy();
        }, 2000).unref();
      }),
  };
}
