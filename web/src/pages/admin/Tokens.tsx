import { type FormEvent, useState } from "react";
import { api, errorText, type TokenItem } from "../../api.ts";
import { Confirm, CopyField, Dialog, ErrorMessage, formatTime, Loading, useLoad } from "../../ui.tsx";

const ROLES = ["node", "db", "app", "kube", "bot"];
const TTLS: [number, string][] = [
  [900, "15 minutes"],
  [1800, "30 minutes"],
  [3600, "1 hour"],
  [4 * 3600, "4 hours"],
  [24 * 3600, "24 hours"],
];

interface Created extends TokenItem {
  command: string;
}

export default function TokensPage() {
  const { data, error, reload } = useLoad((signal) => api<{ items: TokenItem[] }>("GET", "/webapi/tokens", undefined, { signal }), []);
  const [roles, setRoles] = useState<string[]>(["node"]);
  const [ttl, setTtl] = useState(1800);
  const [created, setCreated] = useState<Created | null>(null);
  const [formError, setFormError] = useState("");
  const [revoking, setRevoking] = useState<string | null>(null);

  const create = async (e: FormEvent) => {
    e.preventDefault();
    setFormError("");
    if (roles.length === 0) {
      setFormError("Choose at least one role for the token.");
      return;
    }
    try {
      setCreated(await api<Created>("POST", "/webapi/tokens", { roles, ttl_seconds: ttl }));
      reload();
    } catch (err) {
      setFormError(errorText(err));
    }
  };

  return (
    <section aria-labelledby="tokens-title">
      <div className="page-head">
        <h1 id="tokens-title">Join tokens</h1>
      </div>
      <form className="inline-form" onSubmit={create} aria-labelledby="new-token-title">
        <h2 id="new-token-title">Create a token</h2>
        <fieldset className="checks">
          <legend>Roles</legend>
          {ROLES.map((r) => (
            <label key={r}>
              <input
                type="checkbox"
                checked={roles.includes(r)}
                onChange={(e) => setRoles((old) => (e.target.checked ? [...old, r] : old.filter((x) => x !== r)))}
              />{" "}
              {r}
            </label>
          ))}
        </fieldset>
        <div>
          <label htmlFor="token-ttl">Valid for</label>
          <select id="token-ttl" value={ttl} onChange={(e) => setTtl(Number(e.target.value))}>
            {TTLS.map(([s, label]) => (
              <option key={s} value={s}>
                {label}
              </option>
            ))}
          </select>
        </div>
        <div className="filters-actions">
          <button type="submit" className="primary">
            Create token
          </button>
        </div>
        <ErrorMessage error={formError} />
      </form>
      <ErrorMessage error={error} />
      {!data && !error ? <Loading what="tokens" /> : null}
      {data && data.items.length === 0 ? <p className="muted">No join token is active.</p> : null}
      {data && data.items.length > 0 ? (
        <table className="table">
          <thead>
            <tr>
              <th scope="col">Token</th>
              <th scope="col">Roles</th>
              <th scope="col">Expires</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {data.items.map((t) => (
              <tr key={t.name}>
                <td className="mono">{t.name}</td>
                <td>{t.roles.join(", ")}</td>
                <td>{formatTime(t.expires)}</td>
                <td>
                  <button type="button" className="danger" onClick={() => setRevoking(t.name)}>
                    Revoke
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {created ? (
        <Dialog title="Token created" onClose={() => setCreated(null)} wide>
          <p>
            Run this on the machine that should join ({created.roles.join(", ")}). The token expires at {formatTime(created.expires)}.
          </p>
          <CopyField label="Command" text={created.command} />
        </Dialog>
      ) : null}
      {revoking ? (
        <Confirm
          title="Revoke this token?"
          message="Machines that have not joined yet can no longer use it. Machines that already joined keep working."
          action="Revoke token"
          onClose={() => setRevoking(null)}
          onConfirm={async () => {
            await api<void>("DELETE", `/webapi/tokens/${encodeURIComponent(revoking)}`);
            reload();
          }}
        />
      ) : null}
    </section>
  );
}
