import { type FormEvent, type JSX, lazy, Suspense, useMemo, useState } from "react";
import { api, query, type Resource } from "../api.ts";
import { navigate } from "../router.tsx";
import { ErrorMessage, Loading, useLoad } from "../ui.tsx";

type SortKey = "name" | "kind" | "description";

// The connect help for databases and TCP apps loads on first use (not on the first page).
const DbConnectDialog = lazy(() => import("./DbConnect.tsx"));
const AppConnectDialog = lazy(() => import("./AppConnect.tsx"));

/**
 * How each kind of the one resource model shows: its badge, and what its
 * Connect cell offers. A new kind adds an entry here, not a page.
 */
interface KindView {
  badge(r: Resource): string;
  Connect(props: { r: Resource }): JSX.Element;
}

function NodeConnect({ r }: { r: Resource }) {
  const [login, setLogin] = useState(r.logins[0] ?? "");
  const selectId = `login-${r.kind}-${r.id}`;
  if (r.logins.length === 0) return <span className="muted">no logins allowed</span>;
  const connect = () => {
    if (login) navigate(`/web/terminal/${encodeURIComponent(r.name)}/${encodeURIComponent(login)}`);
  };
  return (
    <div className="row">
      <label className="visually-hidden" htmlFor={selectId}>
        Login on {r.name}
      </label>
      <select id={selectId} value={login} onChange={(e) => setLogin(e.target.value)}>
        {r.logins.map((l) => (
          <option key={l} value={l}>
            {l}
          </option>
        ))}
      </select>
      <button type="button" className="primary" onClick={connect} aria-label={`Connect to ${r.name} as ${login}`}>
        Connect
      </button>
    </div>
  );
}

function DbConnect({ r }: { r: Resource }) {
  const [open, setOpen] = useState(false);
  return (
    <>
      <button type="button" className="primary" aria-haspopup="dialog" onClick={() => setOpen(true)} aria-label={`Connect to database ${r.name}`}>
        Connect
      </button>
      {r.logins.length === 0 ? <span className="muted"> no database users allowed</span> : null}
      {open ? (
        <Suspense fallback={<span className="muted">Loading…</span>}>
          <DbConnectDialog r={r} onClose={() => setOpen(false)} />
        </Suspense>
      ) : null}
    </>
  );
}

/**
 * An HTTP app opens in a new tab through the proxy's launch page (which starts
 * an app session); a TCP app gets the `jsh proxy app` help.
 */
function AppConnect({ r }: { r: Resource }) {
  const [open, setOpen] = useState(false);
  if (r.sub_kind !== "tcp" && r.launch_url) {
    return (
      <a className="button primary" href={r.launch_url} target="_blank" rel="noopener" aria-label={`Launch app ${r.name} (opens a new tab)`}>
        Launch
      </a>
    );
  }
  return (
    <>
      <button type="button" className="primary" aria-haspopup="dialog" onClick={() => setOpen(true)} aria-label={`Connect to app ${r.name}`}>
        Connect
      </button>
      {open ? (
        <Suspense fallback={<span className="muted">Loading…</span>}>
          <AppConnectDialog r={r} onClose={() => setOpen(false)} />
        </Suspense>
      ) : null}
    </>
  );
}

const PROTOCOLS: Record<string, string> = { postgres: "postgres", mysql: "mysql" };
const APP_TYPES: Record<string, string> = { http: "HTTP", tcp: "TCP" };

const KINDS: Record<string, KindView> = {
  node: { badge: () => "Server", Connect: NodeConnect },
  db: { badge: (r) => `Database · ${PROTOCOLS[r.sub_kind] ?? r.sub_kind}`, Connect: DbConnect },
  app: { badge: (r) => `App · ${APP_TYPES[r.sub_kind] ?? r.sub_kind}`, Connect: AppConnect },
};

const GENERIC: KindView = { badge: (r) => r.kind, Connect: () => <span className="muted">—</span> };

const viewOf = (r: Resource): KindView => KINDS[r.kind] ?? GENERIC;

function parseFilter(text: string): [string, string] | null {
  const i = text.indexOf("=");
  if (i <= 0) return null;
  return [text.slice(0, i).trim(), text.slice(i + 1).trim()];
}

function ResourceRow({ r, onLabel }: { r: Resource; onLabel: (k: string, v: string) => void }) {
  const view = viewOf(r);
  return (
    <tr data-resource={r.name} data-kind={r.kind}>
      <td className="kind">
        <span className={`badge kind-${r.kind}`}>{view.badge(r)}</span>
      </td>
      <td className="name">{r.name}</td>
      <td className="mono">{r.description || r.public_addr}</td>
      <td className="labels">
        {Object.entries(r.labels)
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([k, v]) => (
            <button key={k} type="button" className="chip" title={`Show only ${k}=${v}`} onClick={() => onLabel(k, v)}>
              {k}={v}
            </button>
          ))}
      </td>
      <td className="connect">
        <view.Connect r={r} />
      </td>
    </tr>
  );
}

export function ResourcesPage() {
  const { data, error, reload } = useLoad((signal) => api<{ items: Resource[] }>("GET", `/webapi/resources${query({})}`, undefined, { signal }), []);
  const [search, setSearch] = useState("");
  const [filters, setFilters] = useState<[string, string][]>([]);
  const [filterText, setFilterText] = useState("");
  const [filterError, setFilterError] = useState("");
  const [sort, setSort] = useState<{ key: SortKey; asc: boolean }>({ key: "name", asc: true });

  const addFilter = (k: string, v: string) => setFilters((f) => (f.some(([a, b]) => a === k && b === v) ? f : [...f, [k, v]]));

  const rows = useMemo(() => {
    const q = search.trim().toLowerCase();
    const items = (data?.items ?? []).filter((r) => {
      for (const [k, v] of filters) if (r.labels[k] !== v) return false;
      if (!q) return true;
      const hay = [r.name, r.description, r.public_addr ?? "", r.kind, viewOf(r).badge(r), ...Object.entries(r.labels).map(([k, v]) => `${k}=${v}`)].join(" ").toLowerCase();
      return q.split(/\s+/).every((w) => hay.includes(w));
    });
    const dir = sort.asc ? 1 : -1;
    return items.sort((a, b) => dir * a[sort.key].localeCompare(b[sort.key], undefined, { numeric: true }));
  }, [data, search, filters, sort]);

  const submitFilter = (e: FormEvent) => {
    e.preventDefault();
    const f = parseFilter(filterText);
    if (!f) {
      setFilterError("Write a label filter as key=value, for example env=prod.");
      return;
    }
    setFilterError("");
    addFilter(f[0], f[1]);
    setFilterText("");
  };

  const header = (key: SortKey, label: string) => {
    const active = sort.key === key;
    return (
      <th scope="col" aria-sort={active ? (sort.asc ? "ascending" : "descending") : "none"}>
        <button type="button" className="sort" onClick={() => setSort({ key, asc: active ? !sort.asc : true })}>
          {label}
          <span aria-hidden="true">{active ? (sort.asc ? " ▲" : " ▼") : ""}</span>
        </button>
      </th>
    );
  };

  return (
    <section aria-labelledby="resources-title">
      <div className="page-head">
        <h1 id="resources-title">Resources</h1>
        <button type="button" onClick={reload}>
          Refresh
        </button>
      </div>
      <div className="toolbar">
        <label className="grow">
          <span className="visually-hidden">Search resources</span>
          <input type="search" placeholder="Search by name, address or label" value={search} onChange={(e) => setSearch(e.target.value)} />
        </label>
        <form onSubmit={submitFilter} className="row">
          <label htmlFor="label-filter" className="visually-hidden">
            Label filter (key=value)
          </label>
          <input id="label-filter" placeholder="label filter: env=prod" value={filterText} onChange={(e) => setFilterText(e.target.value)} />
          <button type="submit">Add filter</button>
        </form>
      </div>
      <ErrorMessage error={filterError} />
      {filters.length > 0 ? (
        <ul className="chips" aria-label="Active label filters">
          {filters.map(([k, v]) => (
            <li key={`${k}=${v}`}>
              <button type="button" className="chip active" aria-label={`Remove filter ${k}=${v}`} onClick={() => setFilters((f) => f.filter(([a, b]) => a !== k || b !== v))}>
                {k}={v} ×
              </button>
            </li>
          ))}
        </ul>
      ) : null}
      <ErrorMessage error={error} />
      {!data && !error ? (
        <Loading what="resources" />
      ) : (
        <table className="table resources">
          <thead>
            <tr>
              {header("kind", "Kind")}
              {header("name", "Name")}
              {header("description", "Address or description")}
              <th scope="col">Labels</th>
              <th scope="col">Connect</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <ResourceRow key={`${r.kind}/${r.id}`} r={r} onLabel={addFilter} />
            ))}
          </tbody>
        </table>
      )}
      {data && rows.length === 0 ? (
        <p className="muted">{data.items.length === 0 ? "You have no resources to access yet." : "No resource matches the search and filters."}</p>
      ) : null}
    </section>
  );
}
