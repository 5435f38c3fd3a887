// The "Connect" help for a database in the resource list: the exact `jsh`
// commands for the database user and name picked here. Loaded on demand.
import { useId, useState } from "react";
import type { Resource } from "../api.ts";
import { useSession } from "../session.tsx";
import { CopyField, Dialog } from "../ui.tsx";
import { dbCommands, proxyFromLocation } from "./dbcommands.ts";

const OTHER = "\u0000other";

/**
 * A choice among the values the roles allow. "*" (any) is not a value to
 * offer: it adds "Other…" with a text field, or is the text field alone.
 */
function Choice(props: { label: string; allowed: string[]; value: string; onChange: (v: string) => void; optional?: string }) {
  const id = useId();
  const concrete = props.allowed.filter((v) => v !== "*");
  const any = props.allowed.includes("*");
  const [other, setOther] = useState(concrete.length === 0);
  const selectValue = other ? OTHER : props.value;
  return (
    <div className="db-choice">
      <label htmlFor={other && concrete.length === 0 ? `${id}-text` : id}>{props.label}</label>
      <div className="row">
        {concrete.length > 0 ? (
          <select
            id={id}
            value={selectValue}
            onChange={(e) => {
              const v = e.target.value;
              if (v === OTHER) {
                setOther(true);
                props.onChange("");
              } else {
                setOther(false);
                props.onChange(v);
              }
            }}
          >
            {props.optional !== undefined ? <option value="">{props.optional}</option> : null}
            {concrete.map((v) => (
              <option key={v} value={v}>
                {v}
              </option>
            ))}
            {any ? <option value={OTHER}>Other…</option> : null}
          </select>
        ) : null}
        {other ? (
          <input
            id={`${id}-text`}
            aria-label={concrete.length > 0 ? `${props.label} (other)` : undefined}
            value={props.value}
            placeholder={any ? "any your roles allow" : ""}
            onChange={(e) => props.onChange(e.target.value.trim())}
            className="mono"
          />
        ) : null}
      </div>
    </div>
  );
}

const firstConcrete = (values: string[] | undefined) => (values ?? []).find((v) => v !== "*") ?? "";

export default function DbConnectDialog({ r, onClose }: { r: Resource; onClose: () => void }) {
  const { session } = useSession();
  const mysql = r.sub_kind === "mysql";
  const [dbUser, setDbUser] = useState(firstConcrete(r.logins));
  const [dbName, setDbName] = useState(firstConcrete(r.db_names));
  const [port, setPort] = useState(mysql ? 13306 : 15432);
  const portId = useId();
  const c = dbCommands({
    proxy: proxyFromLocation(window.location),
    user: session?.user ?? "USER",
    name: r.name,
    protocol: r.sub_kind,
    dbUser,
    dbName,
    port,
  });
  const names = r.db_names ?? [];
  return (
    <Dialog title={`Connect to ${r.name}`} onClose={onClose} wide>
      <div className="db-connect">
        <p className="muted">
          {mysql ? "MySQL" : "PostgreSQL"} database <strong>{r.name}</strong>
          {r.description ? ` — ${r.description}` : ""}. Run these commands on your computer with <code>jsh</code>.
        </p>
        <div className="db-choices">
          <Choice label="Database user" allowed={r.logins} value={dbUser} onChange={setDbUser} />
          <Choice
            label="Database name"
            allowed={names}
            value={dbName}
            onChange={setDbName}
            {...(names.includes("*") ? { optional: "(choose when connecting)" } : {})}
          />
          <div className="db-choice">
            <label htmlFor={portId}>Local port</label>
            <input
              id={portId}
              type="number"
              min={1}
              max={65535}
              value={port}
              onChange={(e) => {
                const n = Number(e.target.value);
                if (Number.isInteger(n) && n > 0 && n <= 65535) setPort(n);
              }}
            />
          </div>
        </div>
        {r.logins.length === 0 ? <p className="error">Your roles allow no database user on this database.</p> : null}
        <ol className="db-steps">
          <li>
            <CopyField label="Sign in with jsh (if you have not yet; add --insecure for a demo proxy)" text={c.login} />
          </li>
          <li>
            <CopyField label="Get a certificate for this database" text={c.dbLogin} />
          </li>
          <li>
            <CopyField label={`Connect with ${c.clientName}`} text={c.connect} />
          </li>
          <li>
            <CopyField label="Or open a local tunnel for any client" text={c.proxy} />
            <CopyField label={`Then, in another terminal, run ${c.clientName}`} text={c.client} />
          </li>
        </ol>
      </div>
    </Dialog>
  );
}
