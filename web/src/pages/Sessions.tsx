import { useEffect } from "react";
import { type ActiveSession, api } from "../api.ts";
import { navigate } from "../router.tsx";
import { ErrorMessage, formatTime, Loading, useLoad } from "../ui.tsx";

export function SessionsPage() {
  const { data, error, reload } = useLoad((signal) => api<{ items: ActiveSession[] }>("GET", "/webapi/sessions/active", undefined, { signal }), []);
  useEffect(() => {
    const t = setInterval(reload, 5000);
    return () => clearInterval(t);
  });
  return (
    <section aria-labelledby="sessions-title">
      <div className="page-head">
        <h1 id="sessions-title">Active sessions</h1>
        <button type="button" onClick={reload}>
          Refresh
        </button>
      </div>
      <ErrorMessage error={error} />
      {!data && !error ? <Loading what="sessions" /> : null}
      {data && data.items.length === 0 ? <p className="muted">No session is running now.</p> : null}
      {data && data.items.length > 0 ? (
        <table className="table">
          <thead>
            <tr>
              <th scope="col">Node</th>
              <th scope="col">Login</th>
              <th scope="col">Started by</th>
              <th scope="col">Started</th>
              <th scope="col">Participants</th>
              <th scope="col">Join</th>
            </tr>
          </thead>
          <tbody>
            {data.items.map((s) => (
              <tr key={s.id} data-session={s.id}>
                <td>{s.node}</td>
                <td>{s.login}</td>
                <td>{s.user}</td>
                <td>{formatTime(s.created)}</td>
                <td>{s.participants.map((p) => `${p.user} (${p.mode})`).join(", ")}</td>
                <td>
                  <div className="row">
                  {s.join_modes.length === 0 ? <span className="muted">not allowed</span> : null}
                  {s.join_modes.map((m) => (
                    <button key={m} type="button" onClick={() => navigate(`/web/sessions/${encodeURIComponent(s.id)}/join/${m}`)}>
                      Join as {m}
                    </button>
                  ))}
                </div>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}
