import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { api, type AuditEvent, errorText, query, type Recording, type RecordingEvent } from "../api.ts";
import { Link } from "../router.tsx";
import { useSession } from "../session.tsx";
import { Dialog, ErrorMessage, formatClock, formatTime, Loading } from "../ui.tsx";
import { newTerminal, type Terminal } from "../term.ts";

const SPEEDS = [1, 2, 4, 8];

function isOutput(e: RecordingEvent): e is { type: "output"; time: number; data: string } {
  return e.type === "output" && typeof (e as { data?: unknown }).data === "string";
}
function isResize(e: RecordingEvent): e is { type: "resize"; time: number; cols: number; rows: number } {
  return e.type === "resize" && typeof (e as { cols?: unknown }).cols === "number";
}

/** Plays a recording into a terminal: a clock, an index into the events, and a seek that replays from the start. */
class Playback {
  pos = 0;
  private idx = 0;
  constructor(
    private readonly term: Terminal,
    private readonly rec: Recording,
  ) {}

  get duration(): number {
    return this.rec.events.at(-1)?.time ?? 0;
  }

  /** Writes every event up to time `t` (seconds); batches output between resizes. */
  advance(t: number): void {
    const ev = this.rec.events;
    let buf = "";
    while (this.idx < ev.length) {
      const e = ev[this.idx];
      if (!e || e.time > t) break;
      if (isOutput(e)) buf += e.data;
      else if (isResize(e)) {
        if (buf) this.term.write(buf);
        buf = "";
        this.term.resize(Math.max(2, e.cols), Math.max(1, e.rows));
      }
      this.idx++;
    }
    if (buf) this.term.write(buf);
    this.pos = t;
  }

  seek(t: number): void {
    this.term.reset();
    this.term.resize(Math.max(2, this.rec.header.width || 80), Math.max(1, this.rec.header.height || 24));
    this.idx = 0;
    this.advance(t);
  }
}

function SessionEvents({ rec, id, onSeek }: { rec: Recording; id: string; onSeek: (t: number) => void }) {
  const { session } = useSession();
  const [events, setEvents] = useState<AuditEvent[] | null>(null);
  const [error, setError] = useState("");
  const [shown, setShown] = useState<AuditEvent | null>(null);
  const startMs = useMemo(() => {
    const s = rec.header.jumpgate?.start;
    const t = s ? Date.parse(s) : Number.NaN;
    return Number.isNaN(t) ? rec.header.timestamp * 1000 : t;
  }, [rec]);
  const duration = rec.events.at(-1)?.time ?? 0;
  const allowed = session?.acl?.audit ?? false;

  useEffect(() => {
    if (!allowed) return;
    const from = new Date(startMs - 60_000).toISOString();
    const to = new Date(startMs + duration * 1000 + 60_000).toISOString();
    const user = rec.header.jumpgate?.user;
    api<{ items: AuditEvent[] }>("GET", `/webapi/audit/events${query({ from, to, user, limit: 1000, order: "asc" })}`).then(
      (r) => {
        const mine = r.items.filter((e) => e.sid === id || e.session_id === id);
        setEvents((mine.length > 0 ? mine : r.items).sort((a, b) => a.time.localeCompare(b.time)));
      },
      (e: unknown) => setError(errorText(e)),
    );
  }, [allowed, startMs, duration, rec, id]);

  return (
    <aside className="player-events" aria-labelledby="player-events-title">
      <h2 id="player-events-title">Session events</h2>
      {!allowed ? <p className="muted">Your roles do not allow reading the audit log.</p> : null}
      <ErrorMessage error={error} />
      {allowed && !events && !error ? <Loading what="events" /> : null}
      {events && events.length === 0 ? <p className="muted">No audit events for this session.</p> : null}
      <ol>
        {(events ?? []).map((e, i) => {
          const offset = Math.max(0, (Date.parse(e.time) - startMs) / 1000);
          return (
            <li key={`${e.time}-${i}`}>
              <button type="button" className="link" onClick={() => onSeek(Math.min(offset, duration))} title="Seek to this event">
                {formatClock(offset)}
              </button>{" "}
              <button type="button" className="link event-name" onClick={() => setShown(e)}>
                {e.event}
              </button>
            </li>
          );
        })}
      </ol>
      {shown ? (
        <Dialog title={shown.event} onClose={() => setShown(null)} wide>
          <pre className="json">{JSON.stringify(shown, null, 2)}</pre>
        </Dialog>
      ) : null}
    </aside>
  );
}

export default function PlayerPage({ id }: { id: string }) {
  const [rec, setRec] = useState<Recording | null>(null);
  const [error, setError] = useState("");
  const host = useRef<HTMLDivElement>(null);
  const pb = useRef<Playback | null>(null);
  const [playing, setPlaying] = useState(false);
  const [speed, setSpeed] = useState(1);
  const [pos, setPos] = useState(0);

  useEffect(() => {
    api<Recording>("GET", `/webapi/recordings/${encodeURIComponent(id)}`).then(setRec, (e: unknown) => setError(errorText(e)));
  }, [id]);

  useEffect(() => {
    const el = host.current;
    if (!rec || !el) return;
    const term = newTerminal({ readOnly: true, cols: rec.header.width || 80, rows: rec.header.height || 24 });
    term.open(el);
    pb.current = new Playback(term, rec);
    setPos(0);
    setPlaying(true);
    return () => {
      pb.current = null;
      term.dispose();
    };
  }, [rec]);

  const duration = pb.current?.duration ?? rec?.events.at(-1)?.time ?? 0;

  // The clock: while playing, advance by wall time × speed.
  useEffect(() => {
    if (!playing) return;
    let last = performance.now();
    let frame = 0;
    let lastShown = 0;
    const tick = (now: number) => {
      const p = pb.current;
      if (!p) return;
      const t = Math.min(p.duration, p.pos + ((now - last) / 1000) * speed);
      last = now;
      p.advance(t);
      if (now - lastShown > 100 || t >= p.duration) {
        lastShown = now;
        setPos(t);
      }
      if (t >= p.duration) {
        setPlaying(false);
        return;
      }
      frame = requestAnimationFrame(tick);
    };
    frame = requestAnimationFrame(tick);
    return () => cancelAnimationFrame(frame);
  }, [playing, speed]);

  const seek = useCallback((t: number) => {
    const p = pb.current;
    if (!p) return;
    p.seek(t);
    setPos(t);
  }, []);

  const toggle = () => {
    const p = pb.current;
    if (!p) return;
    if (!playing && p.pos >= p.duration) seek(0);
    setPlaying(!playing);
  };

  const meta = rec?.header.jumpgate;
  const short = duration < 600;
  // A whole number of 0.1 s steps, so that the end is reachable with the keyboard.
  const sliderMax = Math.max(0.1, Math.ceil(duration * 10) / 10);
  return (
    <section className="player" aria-labelledby="player-title">
      <div className="page-head">
        <h1 id="player-title">
          Recording{meta ? `: ${meta.user ?? "?"} as ${meta.login ?? "?"} on ${meta.node_name ?? "?"}` : ""}
        </h1>
        <Link href="/web/recordings" className="button">
          All recordings
        </Link>
      </div>
      {meta?.start ? <p className="muted">Started {formatTime(meta.start)} · session {id}</p> : null}
      <ErrorMessage error={error} />
      {!rec && !error ? <Loading what="the recording" /> : null}
      <div className="player-body" hidden={!rec}>
        <div className="player-main">
          <div className="player-screen" ref={host} />
          <div className="player-controls" role="group" aria-label="Playback">
            <button type="button" className="primary play" onClick={toggle} aria-label={playing ? "Pause" : "Play"}>
              {playing ? "❚❚ Pause" : "▶ Play"}
            </button>
            <label htmlFor="player-speed">Speed</label>
            <select id="player-speed" value={speed} onChange={(e) => setSpeed(Number(e.target.value))}>
              {SPEEDS.map((s) => (
                <option key={s} value={s}>
                  {s}×
                </option>
              ))}
            </select>
            <label htmlFor="player-seek" className="visually-hidden">
              Position
            </label>
            <input
              id="player-seek"
              className="grow"
              type="range"
              min={0}
              max={sliderMax}
              step={0.1}
              value={pos >= duration ? sliderMax : pos}
              aria-valuetext={`${formatClock(pos, short)} of ${formatClock(duration, short)}`}
              onChange={(e) => seek(Number(e.target.value))}
            />
            <span className="mono time">
              {formatClock(pos, short)} / {formatClock(duration, short)}
            </span>
          </div>
        </div>
        {rec ? <SessionEvents rec={rec} id={id} onSeek={seek} /> : null}
      </div>
    </section>
  );
}
