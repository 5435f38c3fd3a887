import { type FormEvent, useCallback, useEffect, useState } from "react";
import { api, type AuditEvent, errorText, query } from "../api.ts";
import { Dialog, ErrorMessage, formatTime, Loading } from "../ui.tsx";

const KNOWN_TYPES = [
  "user.login",
  "user.logout",
  "session.start",
  "session.end",
  "session.join",
  "session.leave",
  "exec",
  "scp",
  "port",
  "user.create",
  "user.delete",
  "role.created",
  "role.deleted",
  "join_token.create",
  "lock.created",
];

interface Filters {
  from: string;
  to: string;
  types: string;
  user: string;
}

/** "2026-01-31T14:05" for <input type="datetime-local"> in local time. */
function localInput(d: Date): string {
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

function defaults(): Filters {
  const now = new Date(Date.now() + 60_000);
  return { from: localInput(new Date(now.getTime() - 24 * 3600_000)), to: localInput(now), types: "", user: "" };
}

function params(f: Filters): Record<string, string> {
  const iso = (s: string) => (s ? new Date(s).toISOString() : "");
  return {
    from: iso(f.from),
    to: iso(f.to),
    type: f.types
      .split(/[\s,]+/)
      .filter(Boolean)
      .join(","),
    user: f.user.trim(),
  };
}

function summary(e: AuditEvent): string {
  const parts: string[] = [];
  for (const k of ["login", "server_hostname", "node", "sid", "addr.remote", "name", "success", "error", "command"]) {
    const v = e[k];
    if (v !== undefined && v !== null && v !== "") parts.push(`${k}=${typeof v === "string" ? v : JSON.stringify(v)}`);
  }
  return parts.join("  ");
}

export default function AuditPage() {
  const [form, setForm] = useState<Filters>(defaults);
  const [applied, setApplied] = useState<Filters>(form);
  const [items, setItems] = useState<AuditEvent[] | null>(null);
  const [next, setNext] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const [shown, setShown] = useState<AuditEvent | null>(null);

  const load = useCallback(async (f: Filters, startKey: string) => {
    setBusy(true);
    setError("");
    try {
      const r = await api<{ items: AuditEvent[]; next_key?: string }>(
        "GET",
        `/webapi/audit/events${query({ ...params(f), limit: 50, order: "desc", start_key: startKey })}`,
      );
      setItems((old) => (startKey && old ? [...old, ...r.items] : r.items));
      setNext(r.next_key ?? "");
    } catch (e) {
      setError(errorText(e));
      if (!startKey) setItems([]);
    } finally {
      setBusy(false);
    }
  }, []);

  useEffect(() => {
    void load(applied, "");
  }, [applied, load]);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (form.from && form.to && new Date(form.from) > new Date(form.to)) {
      setError("The start of the time range is after its end.");
      return;
    }
    setApplied({ ...form });
  };

  const set = (k: keyof Filters) => (e: { target: { value: string } }) => setForm((f) => ({ ...f, [k]: e.target.value }));

  return (
    <section aria-labelledby="audit-title">
      <div className="page-head">
        <h1 id="audit-title">Audit log</h1>
        <a className="button" href={`/webapi/audit/export${query(params(applied))}`} download>
          Export JSON lines
        </a>
      </div>
      <form className="filters" onSubmit={submit} aria-label="Audit filters">
        <div>
          <label htmlFor="audit-from">From</label>
          <input id="audit-from" type="datetime-local" value={form.from} onChange={set("from")} />
        </div>
        <div>
          <label htmlFor="audit-to">To</label>
          <input id="audit-to" type="datetime-local" value={form.to} onChange={set("to")} />
        </div>
        <div>
          <label htmlFor="audit-type">Event types</label>
          <input id="audit-type" list="audit-types" placeholder="e.g. session.start, user.login" value={form.types} onChange={set("types")} />
          <datalist id="audit-types">
            {KNOWN_TYPES.map((t) => (
              <option key={t} value={t} />
            ))}
          </datalist>
        </div>
        <div>
          <label htmlFor="audit-user">User</label>
          <input id="audit-user" placeholder="any user" value={form.user} onChange={set("user")} />
        </div>
        <div className="filters-actions">
          <button type="submit" className="primary">
            Apply
          </button>
          <button
            type="button"
            onClick={() => {
              const d = defaults();
              setForm(d);
              setApplied(d);
            }}
          >
            Reset
          </button>
        </div>
      </form>
      <ErrorMessage error={error} />
      {items === null ? <Loading what="events" /> : null}
      {items && items.length === 0 && !error ? <p className="muted">No event matches these filters.</p> : null}
      {items && items.length > 0 ? (
        <div className="table-wrap">
        <table className="table audit" aria-describedby="audit-hint">
          <thead>
            <tr>
              <th scope="col">Time</th>
              <th scope="col">Event</th>
              <th scope="col">Code</th>
              <th scope="col">User</th>
              <th scope="col">Details</th>
            </tr>
          </thead>
          <tbody>
            {items.map((e, i) => (
              <tr key={`${String(e.uid ?? "")}-${i}`} className="clickable" data-event={e.event} onClick={() => setShown(e)}>
                <td className="nowrap">{formatTime(e.time)}</td>
                <td>
                  <button type="button" className="link" onClick={(ev) => (ev.stopPropagation(), setShown(e))}>
                    {e.event}
                  </button>
                </td>
                <td className="mono">{e.code}</td>
                <td className="user-cell">{e.user}</td>
                <td className="mono details">
                  <div className="clip">{summary(e)}</div>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        </div>
      ) : null}
      <p id="audit-hint" className="muted">
        Select an event to see it in full.
      </p>
      {next ? (
        <button type="button" disabled={busy} onClick={() => void load(applied, next)}>
          {busy ? "Loading…" : "Load more"}
        </button>
      ) : null}
      {shown ? (
        <Dialog title={`${shown.event} · ${formatTime(shown.time)}`} onClose={() => setShown(null)} wide>
          <pre className="json">{JSON.stringify(shown, null, 2)}</pre>
        </Dialog>
      ) : null}
    </section>
  );
}
