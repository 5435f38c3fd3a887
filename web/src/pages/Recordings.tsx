import { api, type RecordingSummary } from "../api.ts";
import { Link } from "../router.tsx";
import { ErrorMessage, formatDuration, formatTime, Loading, useLoad } from "../ui.tsx";

export function RecordingsPage() {
  const { data, error, reload } = useLoad((signal) => api<{ items: RecordingSummary[] }>("GET", "/webapi/recordings?limit=200", undefined, { signal }), []);
  return (
    <section aria-labelledby="recordings-title">
      <div className="page-head">
        <h1 id="recordings-title">Session recordings</h1>
        <button type="button" onClick={reload}>
          Refresh
        </button>
      </div>
      <ErrorMessage error={error} />
      {!data && !error ? <Loading what="recordings" /> : null}
      {data && data.items.length === 0 ? <p className="muted">No recorded session yet.</p> : null}
      {data && data.items.length > 0 ? (
        <table className="table recordings">
          <thead>
            <tr>
              <th scope="col">Started</th>
              <th scope="col">User</th>
              <th scope="col">Login</th>
              <th scope="col">Node</th>
              <th scope="col">Duration</th>
              <th scope="col">Play</th>
            </tr>
          </thead>
          <tbody>
            {data.items.map((r) => (
              <tr key={r.session_id} data-session={r.session_id}>
                <td>{formatTime(r.start)}</td>
                <td>{r.user}</td>
                <td>{r.login}</td>
                <td>{r.node}</td>
                <td>{formatDuration(r.duration_ms)}</td>
                <td>
                  <Link href={`/web/recordings/${encodeURIComponent(r.session_id)}`} className="button" aria-label={`Play the session of ${r.user} on ${r.node} at ${formatTime(r.start)}`}>
                    Play
                  </Link>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}
