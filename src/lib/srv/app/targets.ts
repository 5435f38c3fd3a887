/**
 * What the service knows of each app it serves, from the config file
 * (`app_service.apps`) or from an `app` resource (`app_service.resources`):
 * both go through the one `app` schema (`api/resources/app.ts`).
 */
import { type App, appLabels, appUriScheme, parseResourceOf } from "../../../api/resources/index.ts";

export interface AppTarget {
  name: string;
  /** `http://…`, `https://…` or `tcp://HOST:PORT`. */
  uri: string;
  kind: "http" | "tcp";
  /** Configured public address; empty: NAME.<proxy host>, which the proxy knows. */
  publicAddr: string;
  /** Static labels plus command label results: what roles' app_labels match. */
  labels: Record<string, string>;
  insecureSkipVerify: boolean;
  /** Headers set on every request (values may hold trait templates). */
  rewriteHeaders: { name: string; value: string }[];
  /** Hosts whose redirects are sent back to the public address. */
  rewriteRedirect: string[];
}

/** One entry of `app_service.apps` in the config file (config/schema.ts), as the service needs it. */
export interface AppConfigEntry {
  name: string;
  uri: string;
  public_addr?: string | undefined;
  description?: string | undefined;
  labels: Record<string, string>;
  insecure_skip_verify?: boolean | undefined;
  rewrite?: { headers: { name: string; value: string }[]; redirect: string[] } | undefined;
}

/** Current state of one command label, as `app` resources carry it. */
export interface DynamicLabel {
  command: string[];
  periodMs: number;
  result?: string | undefined;
}

/**
 * A configured app as an `app` resource (what heartbeats announce), validated
 * by the resource schema; throws a bad-parameter error naming the field.
 */
export function appFromConfig(e: AppConfigEntry, dynamic: Record<string, DynamicLabel> = {}): App {
  const dynamicLabels = Object.fromEntries(
    Object.entries(dynamic).map(([k, v]) => [
      k,
      { command: v.command, period: `${Math.max(1, Math.round(v.periodMs / 1000))}s`, ...(v.result !== undefined ? { result: v.result } : {}) },
    ]),
  );
  const rewrite = e.rewrite && (e.rewrite.headers.length > 0 || e.rewrite.redirect.length > 0) ? e.rewrite : undefined;
  return parseResourceOf("app", {
    kind: "app",
    version: "v3",
    metadata: { name: e.name, labels: { ...e.labels }, ...(e.description ? { description: e.description } : {}) },
    spec: {
      uri: e.uri,
      ...(e.public_addr ? { public_addr: e.public_addr } : {}),
      ...(e.insecure_skip_verify ? { insecure_skip_verify: true } : {}),
      ...(rewrite ? { rewrite: { headers: rewrite.headers.map((h) => ({ ...h })), redirect: [...rewrite.redirect] } } : {}),
      ...(Object.keys(dynamicLabels).length > 0 ? { dynamic_labels: dynamicLabels } : {}),
    },
  });
}

/** What the service serves for an `app` resource (configured or registered). */
export function appTargetFromResource(app: App): AppTarget {
  return {
    name: app.metadata.name,
    uri: app.spec.uri,
    kind: appUriScheme(app.spec.uri) === "tcp" ? "tcp" : "http",
    publicAddr: app.spec.public_addr ?? "",
    labels: appLabels(app),
    insecureSkipVerify: app.spec.insecure_skip_verify === true,
    rewriteHeaders: (app.spec.rewrite?.headers ?? []).map((h) => ({ name: h.name, value: h.value })),
    rewriteRedirect: [...(app.spec.rewrite?.redirect ?? [])],
  };
}

/** The announced form of a registered app: its metadata (no revision) and spec as they are. */
export function publicApp(app: App): App {
  return {
    kind: "app",
    version: "v3",
    metadata: {
      name: app.metadata.name,
      labels: { ...(app.metadata.labels ?? {}) },
      ...(app.metadata.description ? { description: app.metadata.description } : {}),
    },
    spec: app.spec,
  } as App;
}
