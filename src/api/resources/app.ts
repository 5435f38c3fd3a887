/**
 * `app` v3: an application reachable through an Application Service, in
 * Teleport's shape (`tctl get app` output loads), registered with
 * `jctl create -f app.yaml` or from a service's `app_service.apps` list.
 * See docs/app-access.md.
 *
 *   kind: app
 *   version: v3
 *   metadata: {name: grafana, labels: {env: dev}, description: Dashboards}
 *   spec:
 *     uri: http://127.0.0.1:3000          # http, https or tcp://host:port
 *     public_addr: grafana.proxy.example.com   # default NAME.<proxy host>
 *     insecure_skip_verify: false
 *     rewrite: {headers: [{name: X-User, value: "{{internal.logins}}"}], redirect: [localhost]}
 *     dynamic_labels: {arch: {period: 1m, command: [uname, -m]}}
 */
import { z } from "zod";
import { bool, duration, metadata, nonEmptyString, nonEmptyStringList, str, strict } from "./schema.ts";

export const APP_URI_SCHEMES = ["http", "https", "tcp"] as const;
export type AppUriScheme = (typeof APP_URI_SCHEMES)[number];

/** App names become the first label of `NAME.PROXY_HOST`: lowercase DNS labels. */
const APP_NAME = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
export const APP_NAME_PROBLEM =
  "an app name must be 1 to 63 lowercase letters, digits or '-', starting and ending with a letter or digit (it becomes a DNS name)";

export function isValidAppName(name: string): boolean {
  return APP_NAME.test(name);
}

/** The scheme of a valid app URI, or a sentence saying what is wrong. */
export function appUriProblem(uri: string): string | undefined {
  let u: URL;
  try {
    u = new URL(uri);
  } catch {
    return `invalid uri ${JSON.stringify(uri)}: use http://HOST[:PORT], https://HOST[:PORT] or tcp://HOST:PORT`;
  }
  const scheme = u.protocol.slice(0, -1);
  if (!(APP_URI_SCHEMES as readonly string[]).includes(scheme)) return `invalid uri ${JSON.stringify(uri)}: the scheme must be http, https or tcp`;
  if (u.hostname === "") return `invalid uri ${JSON.stringify(uri)}: no host`;
  if (u.username !== "" || u.password !== "") return `invalid uri ${JSON.stringify(uri)}: credentials do not belong in the uri`;
  if (scheme === "tcp" && (u.port === "" || (u.pathname !== "" && u.pathname !== "/"))) return `invalid uri ${JSON.stringify(uri)}: use tcp://HOST:PORT`;
  return undefined;
}

export function appUriScheme(uri: string): AppUriScheme {
  return new URL(uri).protocol.slice(0, -1) as AppUriScheme;
}

const appUri = str.superRefine((uri, ctx) => {
  const p = appUriProblem(uri);
  if (p) ctx.addIssue({ code: "custom", message: p, abort: true });
});

/** `host` or `host:port`, no scheme or path. */
const PUBLIC_ADDR = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*(?::\d{1,5})?$/;
const publicAddr = str.refine((s) => PUBLIC_ADDR.test(s), {
  error: (iss) => `invalid public_addr ${JSON.stringify(iss.input)}: use a host name like "grafana.proxy.example.com", without a scheme`,
  abort: true,
});

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Headers the Application Service sets itself, and hop-by-hop ones: a rewrite may not touch them. */
const RESERVED_HEADERS = [
  "jumpgate-jwt-assertion",
  "x-forwarded-for",
  "x-forwarded-host",
  "x-forwarded-proto",
  "connection",
  "keep-alive",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
];

const rewriteHeader = strict({
  name: str.superRefine((n, ctx) => {
    if (!HEADER_NAME.test(n)) ctx.addIssue({ code: "custom", message: `${JSON.stringify(n)} is not a header name` });
    else if (RESERVED_HEADERS.includes(n.toLowerCase()) || n.toLowerCase().startsWith("proxy-")) {
      ctx.addIssue({ code: "custom", message: `header ${JSON.stringify(n)} is set by Jumpgate and cannot be rewritten` });
    }
  }),
  /** May hold trait templates (`{{internal.logins}}`, `{{external.groups}}`), expanded per user. */
  value: str.refine((v) => !/[\r\n\0]/.test(v), { error: "a header value must not contain line breaks" }),
});

const dynamicLabel = strict({
  period: duration,
  command: nonEmptyStringList,
  result: str.optional(),
});

/** Teleport fields Jumpgate does not use: accepted so exported resources load, not evaluated. */
const ignored = z.unknown().optional();

export const appSpec = strict({
  uri: appUri,
  public_addr: publicAddr.optional(),
  insecure_skip_verify: bool.optional(),
  rewrite: strict({
    headers: z.array(rewriteHeader).optional(),
    /** Hosts whose redirects (`Location`) are rewritten to the app's public address. */
    redirect: z.array(nonEmptyString).optional(),
    jwt_claims: ignored,
  }).optional(),
  dynamic_labels: z.record(str, dynamicLabel).optional(),
  aws: ignored,
  cloud: ignored,
  user_groups: ignored,
  integration: ignored,
  required_app_names: ignored,
  cors: ignored,
  tcp_ports: ignored,
  use_any_proxy_public_addr: ignored,
  identity_center: ignored,
});

export const appSchema = strict({
  kind: z.literal("app"),
  version: z.literal("v3"),
  sub_kind: str.optional(),
  metadata,
  spec: appSpec,
}).superRefine((app, ctx) => {
  if (!isValidAppName(app.metadata.name)) ctx.addIssue({ code: "custom", path: ["metadata", "name"], message: APP_NAME_PROBLEM });
});

export type App = z.output<typeof appSchema>;
export type AppInput = z.input<typeof appSchema>;

/** Static labels plus dynamic (command) label results: what role app_labels are matched against. */
export function appLabels(app: Pick<App, "metadata" | "spec">): Record<string, string> {
  const out: Record<string, string> = { ...(app.metadata.labels ?? {}) };
  for (const [key, label] of Object.entries(app.spec.dynamic_labels ?? {})) {
    if (label.result !== undefined) out[key] = label.result;
  }
  return out;
}

/** Where browsers reach the app: its `public_addr`, else `NAME.<proxy host>` (the proxy's port dropped). */
export function appPublicAddr(app: Pick<App, "metadata" | "spec">, proxyHost: string): string {
  if (app.spec.public_addr) return app.spec.public_addr;
  const host = proxyHost.replace(/:\d+$/, "");
  return `${app.metadata.name}.${host}`;
}
