/**
 * One proxied HTTP/1.1 exchange: the client's request goes to the upstream and
 * the response comes back, bodies streamed both ways with backpressure (never
 * buffered), hop-by-hop headers removed, `X-Forwarded-*` set, and the caller's
 * header edits and redirect rewriting applied. Apps and Kubernetes both use it.
 */
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { pipeline } from "node:stream";
import { toUpstreamError, UpstreamError } from "./errors.ts";
import { type HeaderEdits, HeaderList, stripHopByHop } from "./headers.ts";
import { type ResolvedUpstream, resolveUpstream, UpstreamAgent, type UpstreamOptions } from "./upstream.ts";

/** What one request adds to the forwarder's settings: who asked, and the caller's rewrites. */
export interface ForwardRequestOptions {
  /** The client's address for `X-Forwarded-For`; default the socket's remote address. */
  clientAddr?: string;
  /** `X-Forwarded-Proto`; default https when the client's socket is TLS. */
  proto?: "http" | "https";
  /** `X-Forwarded-Host`; default the client's Host header. */
  host?: string;
  /** Edits to the request headers, after hop-by-hop removal and X-Forwarded-*; a function for anything else. */
  requestHeaders?: HeaderEdits | ((h: HeaderList) => void);
  /** Edits to the response headers, after hop-by-hop removal. */
  responseHeaders?: HeaderEdits | ((h: HeaderList, status: number) => void);
  /** Rewrites a redirect's `Location` (3xx and 201); return undefined to keep it. */
  rewriteLocation?: (location: string) => string | undefined;
}

export interface ForwardOutcome {
  /** The status the client got (the upstream's, or 502/504 from here). */
  status: number;
  /** Set when the upstream failed; its message is what the client read. */
  error?: UpstreamError;
}

const edit = <A extends unknown[]>(h: HeaderList, how: HeaderEdits | ((h: HeaderList, ...a: A) => void) | undefined, ...a: A) => {
  if (typeof how === "function") how(h, ...a);
  else h.apply(how);
};

/** Forwards to one upstream; keeps a pool of its connections. */
export class HttpForwarder {
  readonly upstream: ResolvedUpstream;
  readonly agent: UpstreamAgent;

  constructor(opts: UpstreamOptions) {
    this.upstream = resolveUpstream(opts);
    this.agent = new UpstreamAgent(this.upstream, opts.dial, opts.tls, opts.keepAlive ?? true);
  }

  /** The request headers the upstream sees (exported for tests and the upgrade path). */
  requestHeaders(req: IncomingMessage, o: ForwardRequestOptions, upgrade?: string): HeaderList {
    const h = HeaderList.fromRaw(req.rawHeaders);
    stripHopByHop(h);
    // Node answered any 100-continue already; the upstream gets the body as it comes.
    if (/^100-continue$/i.test(h.get("expect") ?? "")) h.delete("expect");
    const clientHost = h.get("host") ?? "";
    if (!this.upstream.preserveHost) h.set("Host", this.upstream.hostHeader);
    // The proxy is the edge: what a client claims in these is not passed on.
    const addr = o.clientAddr ?? req.socket.remoteAddress ?? "";
    h.set("X-Forwarded-For", addr.startsWith("::ffff:") ? addr.slice(7) : addr);
    h.set("X-Forwarded-Proto", o.proto ?? ((req.socket as { encrypted?: boolean }).encrypted ? "https" : "http"));
    h.set("X-Forwarded-Host", o.host ?? clientHost);
    edit(h, o.requestHeaders);
    if (upgrade !== undefined) {
      h.set("Connection", "Upgrade");
      h.set("Upgrade", upgrade);
    } else if (req.headers["transfer-encoding"] !== undefined) {
      // The body is re-framed chunked toward the upstream (node's client decodes nothing here, it encodes).
      h.set("Transfer-Encoding", "chunked");
    }
    return h;
  }

  /** The response headers the client sees. */
  responseHeaders(up: IncomingMessage, o: ForwardRequestOptions): HeaderList {
    const h = HeaderList.fromRaw(up.rawHeaders);
    stripHopByHop(h);
    const status = up.statusCode ?? 502;
    const loc = h.get("location");
    if (loc !== undefined && o.rewriteLocation && ((status >= 300 && status < 400) || status === 201)) {
      const next = o.rewriteLocation(loc);
      if (next !== undefined) h.set("Location", next);
    }
    edit(h, o.responseHeaders, status);
    return h;
  }

  private request(req: IncomingMessage, headers: HeaderList): http.ClientRequest {
    return http.request({
      agent: this.agent,
      host: this.upstream.host,
      port: this.upstream.port,
      method: req.method ?? "GET",
      path: req.url ?? "/",
      headers: headers.toRaw(),
      // No Host of node's own: ours is in the list.
      setHost: false,
    });
  }

  /** Starts the headers deadline once the request (body included) is written. */
  private headersDeadline(up: http.ClientRequest): void {
    let timer: NodeJS.Timeout | undefined;
    let over = false;
    up.once("finish", () => {
      // An upstream may answer before the body is all sent (413, 401): then there is nothing to wait for.
      if (over) return;
      timer = setTimeout(() => {
        up.destroy(new UpstreamError("headers-timeout", `upstream ${this.upstream.display} sent no response within ${this.upstream.headersTimeoutMs} ms`));
      }, this.upstream.headersTimeoutMs);
    });
    const clear = () => {
      over = true;
      clearTimeout(timer);
    };
    up.once("response", clear);
    up.once("upgrade", clear);
    up.once("close", clear);
  }

  /** Forwards `req` and streams the answer into `res`. Never rejects: failures become 502/504 with a one-line message. */
  forward(req: IncomingMessage, res: ServerResponse, o: ForwardRequestOptions = {}): Promise<ForwardOutcome> {
    return new Promise<ForwardOutcome>((resolve) => {
      let outcome: ForwardOutcome | undefined;
      const settle = (v: ForwardOutcome) => {
        if (outcome) return;
        outcome = v;
        resolve(v);
      };
      const headers = this.requestHeaders(req, o);
      const bodiless = isBodiless(req);
      let current: http.ClientRequest | undefined;
      // The client went away: stop the upstream exchange too.
      res.once("close", () => {
        if (!res.writableFinished) current?.destroy();
        settle(outcome ?? { status: res.statusCode });
      });
      const attempt = (retried: boolean) => {
        const up = this.request(req, headers);
        current = up;
        this.headersDeadline(up);
        let connected = false;
        let answered = false;
        up.once("socket", () => {
          connected = true;
        });
        up.on("error", (e) => {
          if (current !== up) return;
          // A pooled connection the upstream closed while idle: try a fresh one once, when nothing of a body was sent.
          if (!retried && !answered && bodiless && up.reusedSocket && isReset(e) && !res.destroyed) return attempt(true);
          fail(up, e, connected ? "exchange" : "connect");
        });
        up.once("response", (upRes) => {
          answered = true;
          const h = this.responseHeaders(upRes, o);
          const status = upRes.statusCode ?? 502;
          res.writeHead(status, upRes.statusMessage, h.toRaw());
          res.flushHeaders();
          // pipe, not pipeline: pipeline arms an abort controller (and builds an error with a stack) per request.
          upRes.once("error", () => {
            if (!res.writableFinished) res.destroy();
          });
          res.once("finish", () => settle({ status }));
          upRes.pipe(res);
        });
        if (bodiless) {
          req.resume();
          up.end();
        } else req.pipe(up);
      };
      const fail = (up: http.ClientRequest, e: unknown, phase: "connect" | "exchange") => {
        const err = toUpstreamError(e, this.upstream.display, phase);
        req.unpipe(up);
        up.destroy();
        if (res.destroyed) {
          // The client is gone already (its close stopped the exchange).
          settle({ status: res.statusCode, error: err });
        } else if (!res.headersSent) {
          sendUpstreamError(res, err);
          settle({ status: err.status, error: err });
        } else {
          // Mid-body: the client must not take a cut body for a whole one.
          res.destroy();
          settle({ status: res.statusCode, error: err });
        }
      };
      attempt(false);
    });
  }

  /**
   * A request with `Upgrade` (WebSocket, SPDY): forwarded; on 101 the upstream's
   * answer goes back raw and the two connections are piped both ways. Any other
   * answer goes back as is and the connection closes.
   */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, o: ForwardRequestOptions = {}): Promise<ForwardOutcome> {
    return new Promise<ForwardOutcome>((resolve) => {
      const protocol = req.headers.upgrade ?? "";
      const up = this.request(req, this.requestHeaders(req, o, protocol));
      this.headersDeadline(up);
      let done = false;
      const settle = (v: ForwardOutcome) => {
        if (!done) resolve(v);
        done = true;
      };
      const onClientGone = () => up.destroy();
      socket.once("close", onClientGone);
      socket.on("error", () => up.destroy());
      up.on("error", (e) => {
        const err = toUpstreamError(e, this.upstream.display, "connect");
        if (socket.writable) writeRawError(socket, err);
        else socket.destroy();
        settle({ status: err.status, error: err });
      });
      up.once("upgrade", (upRes, upSocket, upHead) => {
        socket.off("close", onClientGone);
        const h = HeaderList.fromRaw(upRes.rawHeaders);
        // Keep Connection/Upgrade (they are the point of a 101); drop other hop-by-hop names.
        for (const n of ["keep-alive", "transfer-encoding", "te", "trailer"]) h.delete(n);
        edit(h, o.responseHeaders, 101);
        socket.write(rawHead(101, upRes.statusMessage || "Switching Protocols", h));
        if (upHead.length > 0) socket.write(upHead);
        if (head.length > 0) upSocket.write(head);
        (upSocket as { setNoDelay?: (v: boolean) => void }).setNoDelay?.(true);
        (socket as { setNoDelay?: (v: boolean) => void }).setNoDelay?.(true);
        const closeBoth = () => {
          socket.destroy();
          upSocket.destroy();
          settle({ status: 101 });
        };
        pipeline(socket, upSocket, closeBoth);
        pipeline(upSocket, socket, closeBoth);
      });
      up.once("response", (upRes) => {
        // The upstream said no to the upgrade: pass its answer on, then close.
        const h = this.responseHeaders(upRes, o);
        h.delete("content-length");
        h.set("Connection", "close");
        const status = upRes.statusCode ?? 502;
        socket.write(rawHead(status, upRes.statusMessage ?? "", h));
        pipeline(upRes, socket, () => {
          socket.destroy();
          settle({ status });
        });
      });
      up.end();
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/** No body to stream: no Content-Length (or 0) and no Transfer-Encoding. */
function isBodiless(req: IncomingMessage): boolean {
  const len = req.headers["content-length"];
  return req.headers["transfer-encoding"] === undefined && (len === undefined || len === "0");
}

function isReset(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return code === "ECONNRESET" || code === "EPIPE";
}

function rawHead(status: number, message: string, h: HeaderList): string {
  const lines = [`HTTP/1.1 ${status} ${message.replace(/[\r\n]/g, "")}`];
  for (const [k, v] of h.entries()) lines.push(`${k}: ${v}`);
  return `${lines.join("\r\n")}\r\n\r\n`;
}

/** 502/504 with the error's one line as a plain-text body. */
export function sendUpstreamError(res: ServerResponse, err: UpstreamError): void {
  const body = `${err.message}\n`;
  res.writeHead(err.status, {
    "content-type": "text/plain; charset=utf-8",
    "content-length": Buffer.byteLength(body),
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
  });
  res.end(body);
}

function writeRawError(socket: Duplex, err: UpstreamError): void {
  const body = `${err.message}\n`;
  const text = err.status === 504 ? "Gateway Timeout" : "Bad Gateway";
  socket.end(
    `HTTP/1.1 ${err.status} ${text}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}
