/**
 * The built web UI (web/dist, made by Vite) at `/` and `/web/*`
 * (docs/web-api.md "Static files"). Hashed assets are cached for a year;
 * index.html is revalidated so a new build shows up at once.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { extname, join, normalize, sep } from "node:path";
import { fileURLToPath } from "node:url";

/** web/dist at the repository root, found from this file (src/lib/proxy/web/). */
export const DEFAULT_DIST_DIR = fileURLToPath(new URL("../../../../web/dist/", import.meta.url));

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json",
  ".woff2": "font/woff2",
  ".txt": "text/plain; charset=utf-8",
  ".map": "application/json",
};

const MAX_FILE_BYTES = 20 * 1024 * 1024;

export interface StaticUi {
  /** Whether a built UI is there (checked per request: a build may land while the proxy runs). */
  available(): boolean;
  /** Serves GET/HEAD for `/` or `/web/...`; false when the path is not the UI's. */
  serve(req: IncomingMessage, res: ServerResponse, path: string, publicAddr: string): boolean;
}

export function staticUi(distDir = DEFAULT_DIST_DIR): StaticUi {
  const root = normalize(distDir.endsWith(sep) ? distDir : distDir + sep);
  const index = join(root, "index.html");
  return {
    available: () => existsSync(index),
    serve(req, res, path, publicAddr) {
      if (path !== "/" && path !== "/web" && !path.startsWith("/web/")) return false;
      const rel = path.startsWith("/web/") ? safeRelative(path.slice("/web/".length)) : "";
      if (rel === undefined) {
        send(req, res, 400, "text/plain; charset=utf-8", Buffer.from("bad path\n"), "no-store", publicAddr);
        return true;
      }
      const file = rel === "" ? index : join(root, rel);
      if (rel !== "" && file.startsWith(root) && isFile(file)) {
        const immutable = rel.startsWith("assets/");
        const type = TYPES[extname(file).toLowerCase()] ?? "application/octet-stream";
        send(req, res, 200, type, readFileSync(file), immutable ? "public, max-age=31536000, immutable" : "no-cache", publicAddr);
        return true;
      }
      // A missing hashed file is a stale page, not a client-side route: answering HTML would be run as a script.
      if (rel.startsWith("assets/")) {
        send(req, res, 404, "text/plain; charset=utf-8", Buffer.from("not found\n"), "no-store", publicAddr);
        return true;
      }
      send(req, res, 200, TYPES[".html"] ?? "", readFileSync(index), "no-cache", publicAddr);
      return true;
    },
  };
}

/** The path under /web/, decoded and normalized; undefined when it tries to leave the directory. */
export function safeRelative(raw: string): string | undefined {
  let p: string;
  try {
    p = decodeURIComponent(raw);
  } catch {
    return undefined;
  }
  if (p.includes("\0") || p.includes("\\")) return undefined;
  const parts = p.split("/").filter((s) => s !== "" && s !== ".");
  if (parts.some((s) => s === ".." || s.startsWith("."))) return undefined;
  return parts.join("/");
}

function isFile(p: string): boolean {
  try {
    const s = statSync(p);
    return s.isFile() && s.size <= MAX_FILE_BYTES;
  } catch {
    return false;
  }
}

/** The UI's CSP: its own scripts only, and WebSockets back to this proxy. */
export function uiCsp(req: IncomingMessage, publicAddr: string): string {
  const hosts = new Set([publicAddr, req.headers.host ?? publicAddr].filter((h) => /^[A-Za-z0-9.:[\]-]+$/.test(h)).map((h) => `wss://${h}`));
  return [
    "default-src 'self'",
    "script-src 'self'",
    // React and xterm set style attributes.
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self'",
    `connect-src 'self' ${[...hosts].join(" ")}`,
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'self'",
  ].join("; ");
}

function send(req: IncomingMessage, res: ServerResponse, status: number, type: string, body: Buffer, cache: string, publicAddr: string) {
  res.writeHead(status, {
    "content-type": type,
    "content-length": body.length,
    "cache-control": cache,
    "content-security-policy": uiCsp(req, publicAddr),
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "strict-transport-security": "max-age=31536000",
  });
  res.end(req.method === "HEAD" ? undefined : body);
}
