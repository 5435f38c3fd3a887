import type { ServerResponse } from "node:http";

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * A small self-contained HTML page for refusals a person reads in a browser
 * (403 for an app the roles do not allow, 401 for a dead app session, 502 when
 * the app is down). One line says why; no scripts, no outside resources.
 */
export function errorPage(status: number, title: string, message: string, link?: { href: string; text: string }): string {
  const a = link ? `<p><a href="${escapeHtml(link.href)}">${escapeHtml(link.text)}</a></p>` : "";
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${status} ${escapeHtml(title)} · Jumpgate</title><style>body{font:16px/1.5 system-ui,sans-serif;margin:4rem auto;max-width:40rem;padding:0 1rem;color:#1f2933}h1{font-size:1.4rem}code{background:#eef1f4;padding:0 .2rem}</style></head><body><h1>${escapeHtml(title)}</h1><p id="reason">${escapeHtml(message)}</p>${a}<p><small>Jumpgate · ${status}</small></p></body></html>`;
}

/** Sends `errorPage` unless headers went out already (then the connection is cut). */
export function sendErrorPage(res: ServerResponse, status: number, title: string, message: string, link?: { href: string; text: string }): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = errorPage(status, title, message, link);
  res.writeHead(status, {
    "content-type": "text/html; charset=utf-8",
    "content-length": Buffer.byteLength(body),
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'",
  });
  res.end(body);
}
