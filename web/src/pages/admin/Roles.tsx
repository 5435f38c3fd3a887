import { type FormEvent, useEffect, useRef, useState } from "react";
import { ApiError, api, errorText, type RoleItem } from "../../api.ts";
import { Confirm, ErrorMessage, Loading, Notice, useLoad } from "../../ui.tsx";

const TEMPLATE = `kind: role
version: v7
metadata:
  name: NAME
  description: ""
spec:
  allow:
    logins: ["{{internal.logins}}"]
    node_labels:
      "*": "*"
  deny: {}
`;

interface YamlError {
  message: string;
  line?: number;
  column?: number;
}

/** A textarea with a line-number gutter; the line of a server-side error is marked in the gutter. */
function YamlEditor(props: { value: string; onChange: (v: string) => void; error: YamlError | null; id: string }) {
  const ta = useRef<HTMLTextAreaElement>(null);
  const gutter = useRef<HTMLDivElement>(null);
  const lines = props.value.split("\n").length;
  const errLine = props.error?.line;

  useEffect(() => {
    const el = ta.current;
    if (!el || !errLine) return;
    // Put the caret on the offending line so keyboard users land on it.
    const rows = props.value.split("\n");
    let offset = 0;
    for (let i = 0; i < errLine - 1 && i < rows.length; i++) offset += (rows[i]?.length ?? 0) + 1;
    offset += Math.max(0, (props.error?.column ?? 1) - 1);
    el.focus();
    el.setSelectionRange(offset, offset);
    const lh = parseFloat(getComputedStyle(el).lineHeight) || 20;
    el.scrollTop = Math.max(0, (errLine - 3) * lh);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [props.error]);

  return (
    <div className={props.error ? "yaml-editor invalid" : "yaml-editor"}>
      <div className="gutter" ref={gutter} aria-hidden="true">
        {Array.from({ length: lines }, (_, i) => (
          <div key={i} className={i + 1 === errLine ? "ln err" : "ln"} title={i + 1 === errLine ? props.error?.message : undefined}>
            {i + 1 === errLine ? "▶ " : ""}
            {i + 1}
          </div>
        ))}
      </div>
      <textarea
        id={props.id}
        ref={ta}
        spellCheck={false}
        autoCapitalize="off"
        autoCorrect="off"
        wrap="off"
        value={props.value}
        aria-invalid={props.error ? true : undefined}
        aria-describedby={props.error ? `${props.id}-error` : undefined}
        onChange={(e) => props.onChange(e.target.value)}
        onScroll={(e) => {
          if (gutter.current) gutter.current.scrollTop = e.currentTarget.scrollTop;
        }}
        onKeyDown={(e) => {
          // Tab indents (two spaces); Escape then Tab leaves the editor.
          if (e.key === "Tab" && !e.shiftKey && !e.ctrlKey && !e.altKey && e.currentTarget.dataset.escaped !== "1") {
            e.preventDefault();
            const el = e.currentTarget;
            const s = el.selectionStart;
            const v = `${el.value.slice(0, s)}  ${el.value.slice(el.selectionEnd)}`;
            props.onChange(v);
            requestAnimationFrame(() => el.setSelectionRange(s + 2, s + 2));
          }
          e.currentTarget.dataset.escaped = e.key === "Escape" ? "1" : "";
        }}
      />
    </div>
  );
}

function nameFromYaml(yaml: string): string {
  const m = /^metadata:\s*\n(?:[ \t]+.*\n)*?[ \t]+name:[ \t]*["']?([^"'\s#]+)/m.exec(yaml);
  return m?.[1] ?? "";
}

export default function RolesPage() {
  const { data, error, reload } = useLoad((signal) => api<{ items: RoleItem[] }>("GET", "/webapi/roles", undefined, { signal }), []);
  const [name, setName] = useState("");
  const [yaml, setYaml] = useState("");
  const [editing, setEditing] = useState<"new" | string | null>(null);
  const [yamlError, setYamlError] = useState<YamlError | null>(null);
  const [saved, setSaved] = useState("");
  const [busy, setBusy] = useState(false);
  const [removing, setRemoving] = useState<string | null>(null);

  const open = (r: RoleItem | null) => {
    setYamlError(null);
    setSaved("");
    if (r) {
      setEditing(r.name);
      setName(r.name);
      setYaml(r.yaml);
    } else {
      setEditing("new");
      setName("");
      setYaml(TEMPLATE);
    }
  };

  const save = async (e: FormEvent) => {
    e.preventDefault();
    const roleName = (name.trim() || nameFromYaml(yaml)).trim();
    setYamlError(null);
    setSaved("");
    if (!roleName) {
      setYamlError({ message: "Give the role a name (it must match metadata.name in the YAML)." });
      return;
    }
    setBusy(true);
    try {
      const r = await api<{ name: string; yaml: string }>("PUT", `/webapi/roles/${encodeURIComponent(roleName)}`, { yaml });
      setEditing(r.name);
      setName(r.name);
      setYaml(r.yaml);
      setSaved(`Role ${r.name} saved.`);
      reload();
    } catch (err) {
      if (err instanceof ApiError) {
        setYamlError({
          message: err.message,
          ...(err.line !== undefined ? { line: err.line } : {}),
          ...(err.column !== undefined ? { column: err.column } : {}),
        });
      } else setYamlError({ message: errorText(err) });
    } finally {
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby="roles-title">
      <div className="page-head">
        <h1 id="roles-title">Roles</h1>
        <button type="button" className="primary" onClick={() => open(null)}>
          New role
        </button>
      </div>
      <ErrorMessage error={error} />
      <div className="split">
        <div className="split-list">
          {!data && !error ? <Loading what="roles" /> : null}
          <ul className="role-list" aria-label="Roles">
            {(data?.items ?? []).map((r) => (
              <li key={r.name} data-role={r.name}>
                <button type="button" className={editing === r.name ? "link current" : "link"} onClick={() => open(r)} aria-current={editing === r.name ? "true" : undefined}>
                  {r.name}
                </button>
                {r.description ? <span className="muted"> — {r.description}</span> : null}
              </li>
            ))}
          </ul>
        </div>
        <div className="split-main">
          {editing === null ? (
            <p className="muted">Choose a role to edit it, or create a new one.</p>
          ) : (
            <form onSubmit={save} aria-label="Role editor">
              <div className="row">
                <label htmlFor="role-name">Name</label>
                <input
                  id="role-name"
                  value={name}
                  readOnly={editing !== "new"}
                  placeholder="taken from metadata.name"
                  onChange={(e) => setName(e.target.value)}
                />
              </div>
              <label htmlFor="role-yaml">Role (YAML)</label>
              <YamlEditor id="role-yaml" value={yaml} onChange={setYaml} error={yamlError} />
              {yamlError ? (
                <p id="role-yaml-error" className="error yaml-error" role="alert">
                  {yamlError.line ? `Line ${yamlError.line}${yamlError.column ? `, column ${yamlError.column}` : ""}: ` : ""}
                  {yamlError.message}
                </p>
              ) : null}
              {saved ? <Notice>{saved}</Notice> : null}
              <div className="row">
                <button type="submit" className="primary" disabled={busy}>
                  {busy ? "Saving…" : "Save role"}
                </button>
                {editing !== "new" ? (
                  <button type="button" className="danger" onClick={() => setRemoving(editing)}>
                    Delete role
                  </button>
                ) : null}
              </div>
            </form>
          )}
        </div>
      </div>
      {removing ? (
        <Confirm
          title={`Delete role ${removing}?`}
          message="Users who hold only this role lose the access it grants."
          action="Delete role"
          onClose={() => setRemoving(null)}
          onConfirm={async () => {
            await api<void>("DELETE", `/webapi/roles/${encodeURIComponent(removing)}`);
            setEditing(null);
            reload();
          }}
        />
      ) : null}
    </section>
  );
}
