import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { badParameter } from "../../api/errors.ts";
import type { Logger } from "./logger.ts";
import type { Registry } from "./metrics.ts";

/** `false` or `{ready: false, reason}` answers 503; a thrown error's message is the reason. */
export type ReadyState = boolean | { ready: boolean; reason?: string };

export interface DiagServerOptions {
  /** "127.0.0.1:3000"; port 0 picks a free one. */
  addr: string;
  registry: Registry;
  isReady: () => ReadyState | Promise<ReadyState>;
  /** How long /readyz waits for isReady; default 2 s. */
  readyTimeoutMs?: number;
  logger?: Logger;
}

export interface DiagServer {
  host: string;
  port: number;
  close(): Promise<void>;
}

function splitAddr(addr: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d{1,5})$/.exec(addr) ?? /^([^:]*):(\d{1,5})$/.exec(addr);
  const port = Number(m?.[2]);
  if (m === null || port > 65535) throw badParameter(`diag address "${addr}": expected HOST:PORT`);
  return { host: m[1] === "" || m[1] === undefined ? "0.0.0.0" : m[1], port };
}

function send(res: ServerResponse, status: number, body: string, type = "application/json"): void {
  res.writeHead(status, {
    "content-type": type,
    "content-length": Buffer.byteLength(body),
    "cache-control": "no-store",
  });
  res.end(res.req.method === "HEAD" ? undefined : body);
}

async function readiness(isReady: DiagServerOptions["isReady"], timeoutMs: number): Promise<{ ok: boolean; reason?: string }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<ReadyState>((resolve) => {
    timer = setTimeout(() => resolve({ ready: false, reason: "readiness check timed out" }), timeoutMs);
  });
  try {
    const s = await Promise.race([Promise.resolve().then(isReady), timeout]);
    if (typeof s === "boolean") return s ? { ok: true } : { ok: false, reason: "not ready" };
    return s.ready ? { ok: true } : { ok: false, reason: s.reason ?? "not ready" };
  } catch (e) {
    return { ok: false, reason: e instanceof Error ? e.message : String(e) };
  } finally {
    clearTimeout(timer);
  }
}

/** The diagnostic HTTP endpoint (DESIGN §8): /healthz, /readyz and Prometheus /metrics. */
export async function startDiagServer(opts: DiagServerOptions): Promise<DiagServer> {
  const { host, port } = splitAddr(opts.addr);
  const readyTimeoutMs = opts.readyTimeoutMs ?? 2000;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.setHeader("allow", "GET, HEAD");
      send(res, 405, JSON.stringify({ error: "method not allowed" }));
      return;
    }
    switch (path) {
      case "/healthz":
        send(res, 200, JSON.stringify({ status: "ok" }));
        return;
      case "/readyz": {
        const r = await readiness(opts.isReady, readyTimeoutMs);
        if (r.ok) send(res, 200, JSON.stringify({ status: "ok" }));
        else send(res, 503, JSON.stringify({ status: "not ready", reason: r.reason }));
        return;
      }
      case "/metrics":
        send(res, 200, await opts.registry.metrics(), opts.registry.contentType);
        return;
      default:
        send(res, 404, JSON.stringify({ error: "not found" }));
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      opts.logger?.warn({ err: e }, "diag request failed");
      if (!res.headersSent) send(res, 500, JSON.stringify({ error: "internal error" }));
      else res.destroy();
    });
  });
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  server.keepAliveTimeout = 5_000;

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host, port }, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const bound = server.address() as AddressInfo;
  opts.logger?.info({ addr: `${bound.address}:${bound.port}` }, "diagnostic endpoint listening");

  let closing: Promise<void> | undefined;
  return {
    host: bound.address,
    port: bound.port,
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
