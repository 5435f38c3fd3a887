/**
 * A lean server path for the Auth API's hottest unary calls (certificate
 * issuance), straight on `node:http2` streams.
 *
 * Connect's Node adapter spends more CPU per call than issuing the
 * certificates it carries (async iterables, several AbortControllers and
 * Headers objects per call, and a DOMException when each call completes). For
 * the methods listed in `startAuthApi`, plain gRPC requests (binary protobuf,
 * no compression) are served here instead: the same handler implementation,
 * the same context values, the same status codes and messages in the same
 * trailers, and the same deadline handling. Everything else (other content
 * types, compressed requests, the Connect and gRPC-web protocols, streaming
 * methods) is left to Connect, untouched.
 */
import type { Http2SecureServer, Http2Server, IncomingHttpHeaders, ServerHttp2Stream } from "node:http2";
import { type DescMessage, type DescMethodUnary, type DescService, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, type ContextValues, type HandlerContext } from "@connectrpc/connect";
import { toConnectError } from "../../../api/rpc-errors.ts";

/** Requests bigger than this are refused (the fast-path methods take a few keys and names). */
export const MAX_UNARY_REQUEST_BYTES = 1024 * 1024;

const CONTENT_TYPE = /^application\/grpc(?:\+proto)?$/i;

// biome-ignore lint/suspicious/noExplicitAny: one handler per method, typed by the service where it is made
type UnaryImpl = (req: any, hc: HandlerContext) => Promise<any>;

interface Route {
  service: DescService;
  method: DescMethodUnary<DescMessage, DescMessage>;
  impl: UnaryImpl;
}

export interface FastUnaryOptions {
  service: DescService;
  /** The service implementation (the same object Connect serves). */
  impl: Record<string, unknown>;
  /** Local names of the unary methods to serve here. */
  methods: readonly string[];
  contextValues: (stream: ServerHttp2Stream) => ContextValues;
  /** Longest deadline honoured, as Connect's `maxTimeoutMs` (0: no limit). */
  maxTimeoutMs?: number;
}

/**
 * Puts the fast path in front of a server's request handler: the server's
 * "stream" event, through which Node's request/response layer (and so Connect)
 * sees every call, is only emitted for the calls the fast path leaves alone.
 * Returns how many calls it has served (for tests).
 */
export function installFastUnary(srv: Http2Server | Http2SecureServer, o: FastUnaryOptions): () => number {
  const fast = fastUnary(o);
  let served = 0;
  const emit = srv.emit.bind(srv);
  srv.emit = ((event: string | symbol, ...args: unknown[]) => {
    if (event === "stream" && fast(args[0] as ServerHttp2Stream, args[1] as IncomingHttpHeaders)) {
      served++;
      return true;
    }
    return emit(event, ...args);
  }) as typeof srv.emit;
  return () => served;
}

/**
 * Returns a function that serves a stream and returns true, or returns false
 * without touching the stream when it is not for the fast path.
 */
export function fastUnary(o: FastUnaryOptions): (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => boolean {
  const routes = new Map<string, Route>();
  for (const name of o.methods) {
    const method = o.service.methods.find((m) => m.localName === name);
    const impl = o.impl[name];
    if (method?.methodKind !== "unary" || typeof impl !== "function") throw new Error(`${name} is not a unary method of ${o.service.typeName}`);
    routes.set(`/${o.service.typeName}/${method.name}`, {
      service: o.service,
      method: method as DescMethodUnary<DescMessage, DescMessage>,
      impl: impl.bind(o.impl) as UnaryImpl,
    });
  }
  return (stream, headers) => {
    const route = routes.get(String(headers[":path"]));
    if (route === undefined || headers[":method"] !== "POST") return false;
    if (!CONTENT_TYPE.test(String(headers["content-type"] ?? ""))) return false;
    const encoding = headers["grpc-encoding"];
    if (encoding !== undefined && encoding !== "identity") return false;
    serve(route, stream, headers, o);
    return true;
  };
}

function serve(route: Route, stream: ServerHttp2Stream, headers: IncomingHttpHeaders, o: FastUnaryOptions): void {
  let done = false;
  let timer: NodeJS.Timeout | undefined;
  const controller = new AbortController();
  const finish = (trailers: Record<string, string>, body?: Buffer, extraHeaders?: Headers, extraTrailers?: Headers) => {
    if (done) return;
    done = true;
    if (timer) clearTimeout(timer);
    if (stream.destroyed || stream.closed) return;
    const responseHeaders: Record<string, string> = { ":status": "200", "content-type": "application/grpc+proto" };
    extraHeaders?.forEach((v, k) => {
      responseHeaders[k] = v;
    });
    if (body === undefined) {
      // Trailers-only response: the status travels in the headers.
      stream.respond({ ...responseHeaders, ...trailers }, { endStream: true });
      return;
    }
    const all: Record<string, string> = {};
    extraTrailers?.forEach((v, k) => {
      all[k] = v;
    });
    Object.assign(all, trailers);
    stream.respond(responseHeaders, { waitForTrailers: true });
    stream.once("wantTrailers", () => stream.sendTrailers(all));
    stream.end(body);
  };
  const fail = (e: unknown) => {
    const err = toConnectError(e);
    finish({ "grpc-status": String(err.code), "grpc-message": encodeURIComponent(err.rawMessage) });
  };
  stream.on("error", () => undefined);
  stream.once("close", () => {
    if (timer) clearTimeout(timer);
    if (!done) controller.abort(new ConnectError("the client closed the call", Code.Canceled));
  });

  const deadline = deadlineMs(headers["grpc-timeout"], o.maxTimeoutMs ?? 0);
  if (deadline instanceof ConnectError) {
    fail(deadline);
    return;
  }
  const expiresAt = deadline === undefined ? undefined : Date.now() + deadline;
  if (deadline !== undefined) {
    timer = setTimeout(() => {
      const err = new ConnectError("the operation timed out", Code.DeadlineExceeded);
      controller.abort(err);
      fail(err);
    }, deadline);
  }

  const chunks: Buffer[] = [];
  let size = 0;
  stream.on("data", (d: Buffer) => {
    if (done) return;
    size += d.length;
    if (size > MAX_UNARY_REQUEST_BYTES + 5) {
      fail(new ConnectError(`message size is larger than configured readMaxBytes ${MAX_UNARY_REQUEST_BYTES}`, Code.ResourceExhausted));
      stream.close();
      return;
    }
    chunks.push(d);
  });
  stream.once("end", () => {
    if (done) return;
    let input: unknown;
    try {
      input = fromBinary(route.method.input, envelopePayload(Buffer.concat(chunks, size)));
    } catch (e) {
      fail(e instanceof ConnectError ? e : new ConnectError(`failed to parse request: ${String(e)}`, Code.InvalidArgument));
      return;
    }
    let hc: LazyContext | undefined;
    Promise.resolve()
      .then(() => {
        hc = new LazyContext(route, headers, o.contextValues(stream), controller.signal, expiresAt);
        return route.impl(input, hc);
      })
      .then((out) => {
        const payload = toBinary(route.method.output, out);
        const body = Buffer.allocUnsafe(5 + payload.length);
        body[0] = 0;
        body.writeUInt32BE(payload.length, 1);
        body.set(payload, 5);
        finish({ "grpc-status": "0" }, body, hc?.resHeader, hc?.resTrailer);
      })
      .catch(fail);
  });
}

/** The one message of a unary request: flags (0: not compressed), length, bytes. */
function envelopePayload(b: Buffer): Uint8Array {
  if (b.length < 5) throw new ConnectError("protocol error: missing input message for unary method", Code.Unimplemented);
  if (b[0] !== 0) throw new ConnectError("protocol error: received compressed message without grpc-encoding", Code.Internal);
  const len = b.readUInt32BE(1);
  if (5 + len > b.length) throw new ConnectError("protocol error: promised more bytes than received", Code.InvalidArgument);
  if (5 + len < b.length) throw new ConnectError("protocol error: received extra input message for unary method", Code.Unimplemented);
  return b.subarray(5);
}

/** A grpc-timeout header in milliseconds, as Connect reads it. */
function deadlineMs(value: string | string[] | undefined, maxTimeoutMs: number): number | undefined | ConnectError {
  if (value === undefined) return undefined;
  const m = /^(\d{1,8})([HMSmun])$/.exec(String(value));
  if (!m) return new ConnectError(`protocol error: invalid grpc timeout value: ${String(value)}`, Code.InvalidArgument);
  const unit = { H: 3600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 }[m[2] as "H"];
  const ms = unit * Number.parseInt(m[1] ?? "0", 10);
  if (maxTimeoutMs > 0 && ms > maxTimeoutMs) {
    return new ConnectError(`timeout ${ms}ms must be less than or equal to ${maxTimeoutMs}`, Code.InvalidArgument);
  }
  return ms;
}

/** The HandlerContext Connect would give, with its Headers made only when a handler looks at them. */
class LazyContext implements HandlerContext {
  readonly requestMethod = "POST";
  readonly protocolName = "grpc";
  readonly url: string;
  private reqHeader: Headers | undefined;
  /** Response headers and trailers, when a handler asked for them. */
  resHeader: Headers | undefined;
  resTrailer: Headers | undefined;

  constructor(
    private readonly route: Route,
    private readonly headers: IncomingHttpHeaders,
    readonly values: ContextValues,
    readonly signal: AbortSignal,
    private readonly expiresAt: number | undefined,
  ) {
    this.url = `https://${String(headers[":authority"] ?? "")}${String(headers[":path"] ?? "")}`;
  }

  get method() {
    return this.route.method;
  }

  get service() {
    return this.route.service;
  }

  timeoutMs = (): number | undefined => (this.expiresAt === undefined ? undefined : this.expiresAt - Date.now());

  get requestHeader(): Headers {
    if (!this.reqHeader) {
      const h = new Headers();
      for (const [k, v] of Object.entries(this.headers)) {
        if (k.startsWith(":") || v === undefined) continue;
        for (const x of Array.isArray(v) ? v : [v]) h.append(k, x);
      }
      this.reqHeader = h;
    }
    return this.reqHeader;
  }

  get responseHeader(): Headers {
    this.resHeader ??= new Headers();
    return this.resHeader;
  }

  get responseTrailer(): Headers {
    this.resTrailer ??= new Headers();
    return this.resTrailer;
  }
}
