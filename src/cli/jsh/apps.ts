/**
 * `jsh apps ls|login|logout|config` (Teleport's `tsh apps` verbs). The work is
 * in lib/client (appcerts.ts, appproxy.ts); this file parses flags and prints.
 */
import type { Command } from "commander";
import { badParameter, notFound } from "../../api/errors.ts";
import {
  type AppCert,
  type AppInfo,
  type AuthClient,
  appLogin,
  currentProfile,
  formatDate,
  listAppCerts,
  listApps,
  loadAppCert,
  type Profile,
  parseFormat,
  ping,
  removeAppCerts,
  render,
  splitHostPort,
  table,
  userAuthClient,
} from "../../lib/client/index.ts";

interface Globals {
  proxy?: string;
  format: string;
}

/** The local port the hints name when none is given. */
export const DEFAULT_APP_PORT = 8080;

const labelText = (l: Record<string, string>) =>
  Object.entries(l)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${v}`)
    .join(",");

export function renderApps(rows: AppInfo[], format: ReturnType<typeof parseFormat>, loggedIn: string[] = []): string {
  const data = rows.map((r) => ({
    name: r.name,
    description: r.description,
    type: r.type,
    public_addr: r.publicAddr,
    labels: r.labels,
    logged_in: loggedIn.includes(r.name),
  }));
  return render(data, format, () =>
    table(
      ["Name", "Description", "Type", "Public Address", "Labels"],
      rows.map((r) => [loggedIn.includes(r.name) ? `> ${r.name}` : r.name, r.description, r.type, r.publicAddr, labelText(r.labels)]),
    ),
  );
}

/** What `jsh apps config` prints, Teleport's `tsh apps config` fields plus the local-proxy commands. */
export interface AppConfig {
  name: string;
  /** Where the proxy serves the app (browsers: through the web UI's Launch). */
  uri: string;
  public_addr: string;
  ca: string;
  cert: string;
  key: string;
  valid_until: string;
  /** The local listener, and the commands that use it. */
  local_port: number;
  local_uri: string;
  proxy_command: string;
  curl: string;
}

export const APP_CONFIG_FORMATS = ["text", "json", "yaml", "uri", "ca", "cert", "key", "curl"] as const;
export type AppConfigFormat = (typeof APP_CONFIG_FORMATS)[number];

export function parseAppConfigFormat(v: string | undefined): AppConfigFormat {
  const f = v ?? "text";
  if (!(APP_CONFIG_FORMATS as readonly string[]).includes(f)) throw badParameter(`unknown format "${f}"; use one of ${APP_CONFIG_FORMATS.join(", ")}`);
  return f as AppConfigFormat;
}

export function parsePort(s: string | undefined, fallback: number): number {
  if (s === undefined) return fallback;
  const n = Number(s);
  if (!/^\d+$/.test(s) || !Number.isInteger(n) || n < 0 || n > 65535) throw badParameter(`--port ${s}: want a port number`);
  return n;
}

export function appConfig(p: Pick<Profile, "proxy">, c: AppCert, port = DEFAULT_APP_PORT): AppConfig {
  const proxyPort = splitHostPort(p.proxy).port;
  const host = c.route.publicAddr || c.name;
  const hasPort = /:\d+$/.test(host) && !host.endsWith("]");
  const local = `http://127.0.0.1:${port}`;
  return {
    name: c.name,
    uri: `https://${host}${hasPort || proxyPort === 443 ? "" : `:${proxyPort}`}`,
    public_addr: c.route.publicAddr,
    ca: c.paths.ca,
    cert: c.paths.cert,
    key: c.paths.key,
    valid_until: formatDate(c.expires),
    local_port: port,
    local_uri: local,
    proxy_command: `jsh proxy app ${c.name} --port ${port}`,
    curl: `curl ${local}/`,
  };
}

export function renderAppConfig(cfg: AppConfig, format: AppConfigFormat): string {
  switch (format) {
    case "uri":
      return cfg.uri;
    case "ca":
      return cfg.ca;
    case "cert":
      return cfg.cert;
    case "key":
      return cfg.key;
    case "curl":
      return cfg.curl;
    default:
      return render(cfg, format, () =>
        [
          `Name:      ${cfg.name}`,
          `URI:       ${cfg.uri}`,
          `CA:        ${cfg.ca}`,
          `Cert:      ${cfg.cert}`,
          `Key:       ${cfg.key}`,
          `Valid:     until ${cfg.valid_until}`,
          "",
          "Reach it from this computer through a local listener:",
          `  ${cfg.proxy_command}`,
          "then, in another terminal:",
          `  ${cfg.curl}`,
          `(for a TCP app, point its own client at 127.0.0.1:${cfg.local_port})`,
        ].join("\n"),
      );
  }
}

/** The one app meant: the named one, or the only one logged in to. */
export function pickApp(p: Profile, name: string | undefined, home?: string): string {
  if (name) return name;
  const all = listAppCerts(p, home);
  const [only, ...rest] = all;
  if (only !== undefined && rest.length === 0) return only;
  if (all.length === 0) throw notFound("not logged in to any app; run: jsh apps login NAME");
  throw badParameter(`logged in to several apps (${all.join(", ")}); name one`);
}

/** The proxy's public address as it announces it (default public addresses of apps derive from it); the profile's when it cannot say. */
async function proxyPublicAddr(p: Profile): Promise<string> {
  try {
    return (await ping(p.proxy, p.insecure)).proxy?.public_addr || p.proxy;
  } catch {
    return p.proxy;
  }
}

async function withAuth<T>(p: Profile, fn: (auth: AuthClient) => Promise<T>): Promise<T> {
  const auth = userAuthClient(p);
  try {
    return await fn(auth);
  } finally {
    auth.close();
  }
}

export function registerAppsCommands(program: Command, globals: () => Globals, print: (s: string) => void): void {
  const profile = () => currentProfile(globals().proxy);
  const apps = program.command("apps").description("applications: list, log in, configure clients");

  apps
    .command("ls")
    .description("list the apps you may reach (those your roles' app_labels match)")
    .action(async () => {
      const p = profile();
      const addr = await proxyPublicAddr(p);
      const rows = await withAuth(p, (auth) => listApps(auth, addr));
      print(renderApps(rows, parseFormat(globals().format), listAppCerts(p)));
    });

  apps
    .command("login <name>")
    .description("get a certificate for an app (saved in your profile)")
    .action(async (name: string) => {
      const p = profile();
      const c = await withAuth(p, (auth) => appLogin(auth, p, { name }));
      const cfg = appConfig(p, c);
      print(
        [
          `Logged in to app "${name}", valid until ${formatDate(c.expires)}.`,
          `Reach it with: ${cfg.proxy_command}, then: ${cfg.curl}`,
          `Certificate paths: jsh apps config ${name}`,
        ].join("\n"),
      );
    });

  apps
    .command("logout [name]")
    .description("remove the certificate of one app, or of all")
    .action((name: string | undefined) => {
      const removed = removeAppCerts(profile(), name);
      if (name && removed.length === 0) throw notFound(`not logged in to app "${name}"`);
      print(removed.length === 0 ? "Not logged in to any app." : `Logged out of ${removed.map((n) => `"${n}"`).join(", ")}.`);
    });

  apps
    .command("config [name]")
    .description("print the certificate paths and URI of an app, and how to reach it (--format uri|ca|cert|key|curl|json|yaml)")
    .option("--port <port>", `local port the commands name (default ${DEFAULT_APP_PORT})`)
    .action((name: string | undefined, o: { port?: string }) => {
      const format = parseAppConfigFormat(globals().format);
      const p = profile();
      const cfg = appConfig(p, loadAppCert(p, pickApp(p, name)), parsePort(o.port, DEFAULT_APP_PORT));
      print(renderAppConfig(cfg, format));
    });
}
