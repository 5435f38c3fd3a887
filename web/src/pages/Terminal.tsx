import { useEffect, useRef, useState } from "react";
import { api } from "../api.ts";
import { Link } from "../router.tsx";
import { clipboardKeys, FitAddon, newTerminal } from "../term.ts";

type Status =
  | { state: "connecting" }
  | { state: "open"; sessionId: string }
  | { state: "exited"; code?: number; signal?: string }
  | { state: "error"; message: string }
  | { state: "disconnected" };

interface Props {
  node: string;
  login: string;
  join?: { id: string; mode: string };
}

export default function TerminalPage({ node, login, join }: Props) {
  const joinId = join?.id ?? "";
  const joinMode = join?.mode ?? "";
  const host = useRef<HTMLDivElement>(null);
  const [status, setStatus] = useState<Status>({ state: "connecting" });
  const [title, setTitle] = useState(join ? `session ${join.id} (${join.mode})` : `${login}@${node}`);
  const [attempt, setAttempt] = useState(0);
  const reconnectRef = useRef<HTMLButtonElement>(null);

  useEffect(() => {
    const el = host.current;
    if (!el) return;
    const term = newTerminal();
    const fit = new FitAddon();
    term.loadAddon(fit);
    term.open(el);
    clipboardKeys(term);
    try {
      fit.fit();
    } catch {
      // not laid out yet; the resize observer fits it
    }
    term.focus();
    setStatus({ state: "connecting" });

    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    const size = `cols=${term.cols}&rows=${term.rows}`;
    const path = joinId
      ? `/webapi/sessions/active/${encodeURIComponent(joinId)}/join?mode=${encodeURIComponent(joinMode)}&${size}`
      : `/webapi/terminal?node=${encodeURIComponent(node)}&login=${encodeURIComponent(login)}&${size}`;
    const ws = new WebSocket(`${scheme}//${window.location.host}${path}`);
    ws.binaryType = "arraybuffer";
    const enc = new TextEncoder();
    let finished = false; // exit or error received: the close that follows is expected
    let disposed = false;

    const send = (data: string | Uint8Array) => {
      if (ws.readyState === WebSocket.OPEN) ws.send(data);
    };
    ws.onmessage = (ev: MessageEvent<ArrayBuffer | string>) => {
      if (typeof ev.data !== "string") {
        term.write(new Uint8Array(ev.data));
        return;
      }
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(ev.data) as Record<string, unknown>;
      } catch {
        return;
      }
      if (msg.type === "session") {
        setStatus({ state: "open", sessionId: String(msg.session_id ?? "") });
        if (typeof msg.node === "string" && typeof msg.login === "string") setTitle(`${msg.login}@${msg.node}`);
        send(JSON.stringify({ type: "resize", cols: term.cols, rows: term.rows }));
      } else if (msg.type === "exit") {
        finished = true;
        setStatus({
          state: "exited",
          ...(typeof msg.code === "number" ? { code: msg.code } : {}),
          ...(typeof msg.signal === "string" ? { signal: msg.signal } : {}),
        });
      } else if (msg.type === "error") {
        finished = true;
        setStatus({ state: "error", message: String(msg.message ?? "the session failed") });
      }
    };
    ws.onclose = () => {
      if (disposed || finished) return;
      setStatus({ state: "disconnected" });
      // A refused upgrade says nothing to the page: ask whether the web session is still valid (a 401 goes to sign-in).
      api("GET", "/webapi/sessions/current").catch(() => undefined);
    };
    ws.onerror = () => undefined;

    const onData = term.onData((d) => send(enc.encode(d)));
    const onBinary = term.onBinary((d) => send(Uint8Array.from(d, (c) => c.charCodeAt(0) & 0xff)));
    const onResize = term.onResize(({ cols, rows }) => send(JSON.stringify({ type: "resize", cols, rows })));

    let timer: ReturnType<typeof setTimeout> | undefined;
    const refit = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        try {
          fit.fit();
        } catch {
          // element hidden
        }
      }, 50);
    };
    window.addEventListener("resize", refit);
    const ro = new ResizeObserver(refit);
    ro.observe(el);

    return () => {
      disposed = true;
      clearTimeout(timer);
      window.removeEventListener("resize", refit);
      ro.disconnect();
      onData.dispose();
      onBinary.dispose();
      onResize.dispose();
      if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close(1000);
      term.dispose();
    };
  }, [node, login, joinId, joinMode, attempt]);

  useEffect(() => {
    if (status.state === "disconnected" || status.state === "exited" || status.state === "error") reconnectRef.current?.focus();
  }, [status.state]);

  const again = join ? "Join again" : "Reconnect";
  return (
    <section className="terminal-page" aria-label={`Terminal ${title}`}>
      <div className="terminal-head">
        <h1 className="terminal-title">{title}</h1>
        <p className="terminal-status" role="status" data-state={status.state}>
          {status.state === "connecting" ? "Connecting…" : null}
          {status.state === "open" ? `Connected · session ${status.sessionId}` : null}
          {status.state === "exited"
            ? `Session ended${status.code !== undefined ? ` (exit status ${status.code})` : status.signal ? ` (killed by signal ${status.signal})` : ""}.`
            : null}
          {status.state === "error" ? <span className="error-text">{status.message}</span> : null}
          {status.state === "disconnected" ? <span className="error-text">Disconnected — the connection to the session was lost.</span> : null}
        </p>
        <div className="row">
          {status.state === "disconnected" || status.state === "exited" || status.state === "error" ? (
            <button ref={reconnectRef} type="button" className="primary" onClick={() => setAttempt((a) => a + 1)}>
              {status.state === "exited" && !join ? "New session" : again}
            </button>
          ) : null}
          <Link href="/web/resources" className="button">
            Back to resources
          </Link>
        </div>
      </div>
      <div className="terminal-host" ref={host} />
      <p className="hint muted">Copy: select text and press Ctrl+Shift+C. Paste: Ctrl+Shift+V.</p>
    </section>
  );
}
