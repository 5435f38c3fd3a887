// The exact `jsh` command lines for one app, as docs/app-access.md describes
// them (flags of src/cli/jsh/apps.ts and src/cli/jsh/proxy-app.ts).
import { shellWord } from "./dbcommands.ts";

export interface AppCommandInput {
  /** The proxy's public address, HOST:PORT. */
  proxy: string;
  /** The Jumpgate user signed in to the web UI. */
  user: string;
  /** The app's name (what `jsh apps` takes). */
  name: string;
  /** The local port of `jsh proxy app`. */
  port: number;
}

export interface AppCommands {
  login: string;
  appLogin: string;
  proxy: string;
  /** Where a client connects once the local listener runs. */
  local: string;
  /** The curl line for an app that speaks HTTP. */
  curl: string;
}

/** The local port the dialog proposes (the one `jsh apps config` names too). */
export const DEFAULT_APP_PORT = 8080;

export function appCommands(o: AppCommandInput): AppCommands {
  const name = shellWord(o.name);
  return {
    login: `jsh login --proxy=${shellWord(o.proxy)} --user=${shellWord(o.user)}`,
    appLogin: `jsh apps login ${name}`,
    proxy: `jsh proxy app ${name} --port ${o.port}`,
    local: `127.0.0.1:${o.port}`,
    curl: `curl http://127.0.0.1:${o.port}/`,
  };
}
