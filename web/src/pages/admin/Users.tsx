import { type FormEvent, useState } from "react";
import { api, errorText, type InviteLink, type UserItem } from "../../api.ts";
import { Confirm, CopyField, Dialog, ErrorMessage, formatTime, Loading, useLoad } from "../../ui.tsx";

const list = (s: string) =>
  s
    .split(/[\s,]+/)
    .map((x) => x.trim())
    .filter(Boolean);

function InviteForm({ onDone }: { onDone: (l: InviteLink) => void }) {
  const [name, setName] = useState("");
  const [roles, setRoles] = useState("access");
  const [logins, setLogins] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError("");
    try {
      const l = await api<InviteLink>("POST", "/webapi/users", { name: name.trim(), roles: list(roles), traits: { logins: list(logins) } });
      setName("");
      setLogins("");
      onDone(l);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="inline-form" onSubmit={submit} aria-labelledby="invite-title">
      <h2 id="invite-title">Invite a user</h2>
      <div>
        <label htmlFor="new-user-name">Username</label>
        <input id="new-user-name" required value={name} onChange={(e) => setName(e.target.value)} />
      </div>
      <div>
        <label htmlFor="new-user-roles">Roles (comma-separated)</label>
        <input id="new-user-roles" required value={roles} onChange={(e) => setRoles(e.target.value)} />
      </div>
      <div>
        <label htmlFor="new-user-logins">Logins (comma-separated)</label>
        <input id="new-user-logins" placeholder="e.g. alice, ubuntu" value={logins} onChange={(e) => setLogins(e.target.value)} />
      </div>
      <div className="filters-actions">
        <button type="submit" className="primary" disabled={busy}>
          Create invitation
        </button>
      </div>
      <ErrorMessage error={error} />
    </form>
  );
}

export default function UsersPage() {
  const { data, error, reload } = useLoad((signal) => api<{ items: UserItem[] }>("GET", "/webapi/users", undefined, { signal }), []);
  const [link, setLink] = useState<InviteLink | null>(null);
  const [removing, setRemoving] = useState<string | null>(null);
  const [actionError, setActionError] = useState("");

  const reset = async (name: string) => {
    setActionError("");
    try {
      setLink(await api<InviteLink>("POST", `/webapi/users/${encodeURIComponent(name)}/reset`));
      reload();
    } catch (e) {
      setActionError(errorText(e));
    }
  };

  return (
    <section aria-labelledby="users-title">
      <div className="page-head">
        <h1 id="users-title">Users</h1>
      </div>
      <InviteForm
        onDone={(l) => {
          setLink(l);
          reload();
        }}
      />
      <ErrorMessage error={error || actionError} />
      {!data && !error ? <Loading what="users" /> : null}
      {data ? (
        <table className="table">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Roles</th>
              <th scope="col">Logins</th>
              <th scope="col">Status</th>
              <th scope="col">Created</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {data.items.map((u) => (
              <tr key={u.name} data-user={u.name}>
                <td>{u.name}</td>
                <td>{u.roles.join(", ")}</td>
                <td>{(u.traits.logins ?? []).join(", ")}</td>
                <td>
                  <span className={`status ${u.status}`}>{u.status}</span>
                  {u.locked_until ? <span className="muted"> until {formatTime(u.locked_until)}</span> : null}
                </td>
                <td>{formatTime(u.created)}</td>
                <td>
                  <div className="row">
                  <button type="button" onClick={() => void reset(u.name)}>
                    Reset
                  </button>
                  <button type="button" className="danger" onClick={() => setRemoving(u.name)}>
                    Delete
                  </button>
                </div>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {link ? (
        <Dialog title={`Invitation for ${link.name}`} onClose={() => setLink(null)}>
          <p>Send this link to {link.name}. It works once and expires at {formatTime(link.expires)}.</p>
          <CopyField label="Invitation link" text={link.invite_url} />
        </Dialog>
      ) : null}
      {removing ? (
        <Confirm
          title={`Delete ${removing}?`}
          message={`${removing} will no longer be able to sign in. Their certificates stay valid until they expire; lock the user to cut access now.`}
          action="Delete user"
          onClose={() => setRemoving(null)}
          onConfirm={async () => {
            await api<void>("DELETE", `/webapi/users/${encodeURIComponent(removing)}`);
            reload();
          }}
        />
      ) : null}
    </section>
  );
}
