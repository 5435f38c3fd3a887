// The "Connect" help for a TCP app in the resource list: the `jsh` commands
// that open a local listener for it. Loaded on demand.
import { useId, useState } from "react";
import type { Resource } from "../api.ts";
import { useSession } from "../session.tsx";
import { CopyField, Dialog } from "../ui.tsx";
import { appCommands, DEFAULT_APP_PORT } from "./appcommands.ts";
import { proxyFromLocation } from "./dbcommands.ts";

export default function AppConnectDialog({ r, onClose }: { r: Resource; onClose: () => void }) {
  const { session } = useSession();
  const [port, setPort] = useState(DEFAULT_APP_PORT);
  const portId = useId();
  const c = appCommands({ proxy: proxyFromLocation(window.location), user: session?.user ?? "USER", name: r.name, port });
  return (
    <Dialog title={`Connect to ${r.name}`} onClose={onClose} wide>
      <div className="db-connect">
        <p className="muted">
          TCP app <strong>{r.name}</strong>
          {r.description ? ` — ${r.description}` : ""}. Run these commands on your computer with <code>jsh</code>, then point the app's own
          client at <code>{c.local}</code>.
        </p>
        <div className="db-choices">
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
        <ol className="db-steps">
          <li>
            <CopyField label="Sign in with jsh (if you have not yet; add --insecure for a demo proxy)" text={c.login} />
          </li>
          <li>
            <CopyField label="Get a certificate for this app" text={c.appLogin} />
          </li>
          <li>
            <CopyField label="Open a local listener (keep it running)" text={c.proxy} />
            <CopyField label={`Then connect any client to ${c.local}; if the app speaks HTTP:`} text={c.curl} />
          </li>
        </ol>
      </div>
    </Dialog>
  );
}
