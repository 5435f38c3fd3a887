/**
 * Web terminals (docs/web-api.md "Terminals"): `WS /webapi/terminal` and
 * `WS /webapi/sessions/active/:id/join`. Binary frames carry terminal bytes
 * both ways; text frames carry JSON control messages.
 */
import { type IncomingMessage, STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";
import type { Logger } from "pino";
import type ssh2 from "ssh2";
import { type RawData, WebSocket, WebSocketServer } from "ws";
import type { Clock } from "../../../api/clock.ts";
import { accessDenied, badParameter, httpStatus, notFound, toJumpgateError, unauthenticated } from "../../../api/errors.ts";
import { originAllowed, type ResolvedSession, readSessionCookie, type WebSessions } from "./session.ts";
import { connectThroughProxy, type SshEntry } from "./ssh-hop.ts";
import { findSessionId, joinTarget, releaseSessionId } from "./terminal-sessions.ts";

export type { SshEntry } from "./ssh-hop.ts";

const TERMINAL = /^\/webapi\/terminal$/;
const JOIN = /^\/webapi\/sessions\/active\/([A-Za-z0-9-]{1,128})\/join$/;
/** Output the browser has not taken yet; past this the node's output waits. */
const MAX_BUFFERED = 1024 * 1024;
/** A terminal in use keeps its web session alive; it asks Auth at most this often. */
const TOUCH_MS = 60_000;
const MAX_FRAME = 64 * 1024;

export interface TerminalOptions {
  sessions: WebSessions;
  publicAddr: string;
  sshProxy?: SshEntry;
  log: Logger;
  clock: Clock;
}

type Request =
  | { kind: "terminal"; node: string; login: string; cols: number; rows: number }
  | { kind: "join"; sessionId: string; mode: "observer" | "peer"; cols: number; rows: number };

export class TerminalSockets {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME });
  private readonly open = new Set<WebSocket>();

  constructor(private readonly o: TerminalOptions) {}

  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? "/", "https://proxy");
    socket.on("error", () => socket.destroy());
    void this.accept(req, url)
      .then((r) => {
        this.wss.handleUpgrade(req, socket, head, (ws) => this.serve(ws, req, r.session, r.cookie, r.request));
      })
      .catch((e: unknown) => refuseUpgrade(socket, e));
  }

  close(): void {
    for (const ws of this.open) ws.terminate();
    this.wss.close();
  }

  /** The checks made before the socket is accepted: path, Origin, session, parameters. */
  private async accept(req: IncomingMessage, url: URL) {
    const join = JOIN.exec(url.pathname);
    if (!join && !TERMINAL.test(url.pathname)) throw notFound(`no WebSocket at ${url.pathname}`);
    // Browsers send Origin on every WebSocket; a page elsewhere must not ride the cookie.
    if (req.headers.origin === undefined || !originAllowed(req, this.o.publicAddr)) {
      throw accessDenied("WebSocket refused: it comes from another site (Origin does not match this proxy)");
    }
    const cookie = readSessionCookie(req);
    const session = await this.o.sessions.resolve(cookie);
    const q = url.searchParams;
    const size = { cols: dim(q.get("cols"), 80, "cols"), rows: dim(q.get("rows"), 24, "rows") };
    let request: Request;
    if (join) {
      const mode = q.get("mode") || "observer";
      if (mode !== "observer" && mode !== "peer") throw badParameter(`unknown join mode "${mode}"; use observer or peer`);
      request = { kind: "join", sessionId: join[1] ?? "", mode, ...size };
    } else {
      const node = q.get("node") ?? "";
      const login = q.get("login") ?? "";
      if (!node || !login) throw badParameter("name the node and the login: /webapi/terminal?node=NODE&login=LOGIN");
      request = { kind: "terminal", node, login, ...size };
    }
    return { session, cookie: cookie ?? "", request };
  }

  private serve(ws: WebSocket, req: IncomingMessage, s: ResolvedSession, cookie: string, r: Request): void {
    this.open.add(ws);
    const remoteAddr = `${req.socket.remoteAddress ?? "?"}:${req.socket.remotePort ?? 0}`;
    const send = (msg: object) => {
      if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(msg));
    };
    const fail = (e: unknown) => {
      const j = toJumpgateError(e);
      if (j.kind === "internal") this.o.log.error({ err: e }, "web terminal failed");
      send({ type: "error", message: j.message });
      ws.close(1011, j.kind);
    };
    let clients: { node: ssh2.Client; proxy: ssh2.Client } | undefined;
    let sessionId: string | undefined;
    let closed = false;
    const hangUp = () => {
      if (sessionId) releaseSessionId(sessionId);
      clients?.node.end();
      clients?.proxy.end();
    };
    const stopWatching = this.o.sessions.onEnd(cookie, (reason) => fail(unauthenticated(reason)));
    ws.once("close", () => {
      closed = true;
      this.open.delete(ws);
      stopWatching();
      hangUp();
    });
    ws.on("error", () => ws.terminate());
    const start = async () => {
      if (!this.o.sshProxy) throw badParameter("this proxy does not serve SSH");
      const creds = { user: s.user.user, sshCert: s.user.ssh.cert, sshPrivateKey: s.user.ssh.privateKey };
      const target = r.kind === "terminal" ? { host: r.node, login: r.login } : await joinTarget(s.user, r.sessionId);
      const started = this.o.clock.now();
      const c = await connectThroughProxy(this.o.sshProxy, remoteAddr, creds, target);
      clients = c;
      // The browser may have gone while we connected: the close handler could not end these yet.
      if (closed) return hangUp();
      const ch = await openShell(c.node, r);
      let info: { id: string; node: string };
      if (r.kind === "join") info = { id: r.sessionId, node: "node" in target ? target.node : target.host };
      else info = await findSessionId(s.user, { node: r.node, login: r.login, since: started });
      sessionId = r.kind === "terminal" ? info.id : undefined;
      if (closed) return hangUp();
      send({ type: "session", session_id: info.id, node: info.node, login: target.login });
      this.pipe(ws, ch, r, cookie, send);
    };
    start().catch(fail);
  }

  private pipe(ws: WebSocket, ch: ssh2.ClientChannel, r: Request, cookie: string, send: (m: object) => void): void {
    let exit: { code?: number; signal?: string } | undefined;
    let lastTouch = this.o.clock.now().getTime();
    const out = (d: Buffer) => {
      if (ws.readyState !== WebSocket.OPEN) return;
      ws.send(d, { binary: true });
      // The node's output waits while the browser is slow, rather than piling up here.
      if (ws.bufferedAmount > MAX_BUFFERED) {
        ch.pause();
        const check = setInterval(() => {
          if (ws.readyState !== WebSocket.OPEN || ws.bufferedAmount < MAX_BUFFERED / 2) {
            clearInterval(check);
            ch.resume();
          }
        }, 20);
      }
    };
    ch.on("data", out);
    ch.stderr.on("data", out);
    ch.on("exit", (code: number | null, signal?: string) => {
      exit = signal ? { signal } : { code: code ?? 0 };
    });
    ch.on("close", () => {
      // Like jsh: 255 when the connection ends without an exit status.
      send({ type: "exit", ...(exit ?? { code: 255 }) });
      if (ws.readyState === WebSocket.OPEN) ws.close(1000);
    });
    ws.on("message", (data: RawData, isBinary: boolean) => {
      const buf = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
      if (isBinary) {
        if (ch.writable) ch.write(buf);
        const now = this.o.clock.now().getTime();
        if (now - lastTouch > TOUCH_MS) {
          lastTouch = now;
          // Typing is activity: renew the web session (an ended one closes this socket through onEnd).
          this.o.sessions.resolve(cookie).catch(() => undefined);
        }
        return;
      }
      let msg: unknown;
      try {
        msg = JSON.parse(buf.toString("utf8"));
      } catch {
        return;
      }
      const m = msg as { type?: unknown; cols?: unknown; rows?: unknown };
      // A joiner's window is his own: the owner's PTY keeps its size.
      if (m.type === "resize" && r.kind === "terminal" && isDim(m.cols) && isDim(m.rows)) ch.setWindow(m.rows, m.cols, 0, 0);
    });
  }
}

function openShell(node: ssh2.Client, r: Request): Promise<ssh2.ClientChannel> {
  return new Promise((resolve, reject) => {
    const done = (err: Error | undefined, ch: ssh2.ClientChannel) => {
      if (err) reject(badParameter(r.kind === "join" ? `cannot join session ${r.sessionId}: ${err.message}` : err.message));
      else resolve(ch);
    };
    if (r.kind === "join") {
      // The join protocol of docs/decisions/0004: env requests, then a shell with no PTY of its own.
      node.shell(false, { env: { JUMPGATE_SESSION_JOIN: r.sessionId, JUMPGATE_SESSION_MODE: r.mode } }, done);
    } else {
      node.shell({ term: "xterm-256color", cols: r.cols, rows: r.rows }, done);
    }
  });
}

const isDim = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v) && v > 0 && v <= 1000;

function dim(raw: string | null, fallback: number, name: string): number {
  if (raw === null || raw === "") return fallback;
  const n = Number(raw);
  if (!isDim(n)) throw badParameter(`"${name}" must be a whole number from 1 to 1000`);
  return n;
}

/** Before the handshake, a refusal is a plain HTTP answer with the JSON error body. */
function refuseUpgrade(socket: Duplex, e: unknown): void {
  const j = toJumpgateError(e);
  const status = httpStatus[j.kind];
  const body = JSON.stringify({ error: { kind: j.kind, message: j.message } });
  if (socket.writable) {
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? "Refused"}\r\n` +
        "content-type: application/json; charset=utf-8\r\ncache-control: no-store\r\nconnection: close\r\n" +
        `content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  }
}
