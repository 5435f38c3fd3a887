/**
 * `GET /webapi/resources`: one list, one shape, for every kind of resource a
 * user may reach. A kind is a `ResourceSource` (which Auth kind to list and
 * how one item becomes a `WebResource`, logins included); nodes, databases and
 * apps are sources here, and Kubernetes clusters join the same way, not with a
 * route or a page.
 */
import { badParameter } from "../../../../api/errors.ts";
import type { StoredResource } from "../../../../api/resource.ts";
import {
  type AppServer,
  appPublicAddr,
  appServerApp,
  appUriScheme,
  type DatabaseServer,
  dbServerDatabase,
  type Node,
  nodeLabels,
} from "../../../../api/resources/index.ts";
import type { AccessChecker } from "../../../rbac/index.ts";
import type { AuthedRoute, WebRouteDeps } from "../context.ts";
import { sendJson } from "../http.ts";
import { csv, listStored, query, route, userAccess } from "./common.ts";

/** The one resource model of the web API (docs/web-api.md, Resources). */
export interface WebResource {
  kind: string;
  /** Stable ID: what the terminal and `connect` actions name. */
  id: string;
  name: string;
  description: string;
  labels: Record<string, string>;
  /** Logins (SSH) or users (databases) the user's roles allow on this resource; none for apps. */
  logins: string[];
  /** Databases: the protocol (postgres, mysql). Apps: `http` (http and https uris) or `tcp`. */
  sub_kind: string;
  /** Databases only: the database names the roles allow ("*": any). */
  db_names?: string[];
  /** Apps only: host[:port] the proxy serves the app at (its public_addr, else NAME.<proxy host>). */
  public_addr?: string;
  /** HTTP apps only: the web UI path that opens an app session and redirects to the app. */
  launch_url?: string;
}

/** What a source may need beyond the stored item and the user's roles. */
export interface SourceContext {
  /** host:port users reach the proxy at. */
  publicAddr: string;
}

export interface ResourceSource {
  /** The `kind` of the web model, and the `kind` query parameter. */
  kind: string;
  /** The Auth resource kind listed through the user's client. */
  authKind: string;
  /** The web item, or undefined when the user's roles give no way in. */
  toWeb(stored: StoredResource, checker: AccessChecker, ctx: SourceContext): WebResource | undefined;
}

export const nodeSource: ResourceSource = {
  kind: "node",
  authKind: "node",
  toWeb(stored, checker) {
    const node = stored as unknown as Node;
    const labels = nodeLabels(node);
    // The same decision the node makes at login (srv/ssh RbacAuthorizer), per login the roles name.
    const logins = checker.sshLogins().filter((l) => checker.checkNodeAccess({ labels }, l).allowed);
    if (logins.length === 0) return undefined;
    return {
      kind: "node",
      id: node.metadata.name,
      name: node.spec.hostname,
      description: node.spec.use_tunnel ? "reverse tunnel" : node.spec.addr,
      labels,
      logins,
      sub_kind: node.sub_kind ?? "",
    };
  },
};

/**
 * Databases, from the Database Services' `db_server` heartbeats (Auth lists the
 * ones whose db_labels match the user's roles); several services serving one
 * database make one item. `logins` are the database users the roles allow there.
 */
export const dbSource: ResourceSource = {
  kind: "db",
  authKind: "db_server",
  toWeb(stored, checker) {
    const { database, labels } = dbServerDatabase(stored as unknown as DatabaseServer);
    if (!checker.checkDatabaseLabels({ labels }).allowed) return undefined;
    const summary = checker.databaseAccessSummary({ labels });
    return {
      kind: "db",
      id: database.metadata.name,
      name: database.metadata.name,
      description: database.metadata.description ?? "",
      labels,
      logins: summary.users.allowed,
      sub_kind: database.spec.protocol,
      db_names: summary.names.allowed,
    };
  },
};

/** The web UI path that launches an HTTP app in the browser (served by the proxy's app-session route). */
export function appLaunchPath(name: string): string {
  return `/web/launch/${encodeURIComponent(name)}`;
}

/**
 * Apps, from the Application Services' `app_server` heartbeats (Auth lists the
 * ones whose app_labels match the user's roles); several services serving one
 * app make one item. HTTP apps carry a launch URL; TCP apps are reached with
 * `jsh proxy app`.
 */
export const appSource: ResourceSource = {
  kind: "app",
  authKind: "app_server",
  toWeb(stored, checker, ctx) {
    const { app, labels } = appServerApp(stored as unknown as AppServer);
    if (!checker.checkAppAccess({ labels }).allowed) return undefined;
    const type = appUriScheme(app.spec.uri) === "tcp" ? "tcp" : "http";
    return {
      kind: "app",
      id: app.metadata.name,
      name: app.metadata.name,
      description: app.metadata.description ?? "",
      labels,
      logins: [],
      sub_kind: type,
      public_addr: appPublicAddr(app, ctx.publicAddr),
      ...(type === "http" ? { launch_url: appLaunchPath(app.metadata.name) } : {}),
    };
  },
};

export const SOURCES: readonly ResourceSource[] = [nodeSource, dbSource, appSource];

/** `k=v,k2=v2`: every pair must be a label of the resource with exactly that value. */
export function parseLabelFilter(raw: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of csv(raw)) {
    const i = pair.indexOf("=");
    if (i <= 0) throw badParameter(`label filter "${pair}" is not KEY=VALUE`);
    out[pair.slice(0, i).trim()] = pair.slice(i + 1).trim();
  }
  return out;
}

/** Case-insensitive substring of the name, description, a label key or value, or `key=value`. */
export function matchesSearch(r: WebResource, search: string): boolean {
  if (search === "") return true;
  const s = search.toLowerCase();
  const fields = [r.name, r.description, ...Object.entries(r.labels).flatMap(([k, v]) => [k, v, `${k}=${v}`])];
  return fields.some((f) => f.toLowerCase().includes(s));
}

export function matchesLabels(r: WebResource, want: Record<string, string>): boolean {
  return Object.entries(want).every(([k, v]) => r.labels[k] === v);
}

export function resourceRoutes(deps: WebRouteDeps, sources: readonly ResourceSource[] = SOURCES): AuthedRoute[] {
  return [
    route("GET", /^\/webapi\/resources$/, async (_req, res, r) => {
      const kind = query(r, "kind");
      const picked = kind === "" ? sources : sources.filter((s) => s.kind === kind);
      if (picked.length === 0) {
        throw badParameter(`unknown resource kind "${kind}"; known kinds: ${sources.map((s) => s.kind).join(", ")}`);
      }
      const search = query(r, "search");
      const labels = parseLabelFilter(query(r, "labels"));
      const [access, lists] = await Promise.all([
        userAccess(deps, r.user.user),
        // Auth lists only what this user may see (for nodes: those he could log in to, or all with a `node` rule).
        Promise.all(picked.map((s) => listStored(r.user.client, s.authKind))),
      ]);
      const items: WebResource[] = [];
      // One item per resource, even when several agents announce it (a database served by two services).
      const seen = new Set<string>();
      for (const [i, source] of picked.entries()) {
        for (const stored of lists[i] ?? []) {
          const item = source.toWeb(stored, access.checker, { publicAddr: deps.publicAddr });
          if (!item || seen.has(`${item.kind}/${item.id}`)) continue;
          seen.add(`${item.kind}/${item.id}`);
          if (matchesSearch(item, search) && matchesLabels(item, labels)) items.push(item);
        }
      }
      sendJson(res, 200, { items });
    }),
  ];
}
