/** Join tokens: list, create with the command line an operator pastes on the new host, revoke. */
import { fromProto } from "../../../../api/convert.ts";
import { badParameter } from "../../../../api/errors.ts";
import type { StoredResource } from "../../../../api/resource.ts";
import type { AuthedRoute, WebRouteDeps } from "../context.ts";
import { num, readJson, sendJson } from "../http.ts";
import { listStored, param, route, sendNoContent, strList } from "./common.ts";

export interface TokenItem {
  name: string;
  roles: string[];
  expires: string | null;
}

function tokenItem(t: StoredResource): TokenItem {
  const spec = (t.spec ?? {}) as { roles?: string[] };
  return { name: t.metadata.name, roles: spec.roles ?? [], expires: t.metadata.expires ?? null };
}

/** Quotes a shell word only when it needs it (token names and roles never do, addresses rarely). */
const shellWord = (s: string) => (/^[A-Za-z0-9._:@,=/-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/** What to run on the new host: the daemon with the token's roles, joining through this proxy. */
export function joinCommand(token: TokenItem, publicAddr: string): string {
  return ["jumpgate start", `--roles=${shellWord(token.roles.join(","))}`, `--token=${shellWord(token.name)}`, `--proxy=${shellWord(publicAddr)}`].join(" ");
}

export function tokenRoutes(deps: WebRouteDeps): AuthedRoute[] {
  return [
    route("GET", /^\/webapi\/tokens$/, async (_req, res, r) => {
      const items = (await listStored(r.user.client, "token"))
        .map(tokenItem)
        .sort((a, b) => (a.expires ?? "").localeCompare(b.expires ?? "") || a.name.localeCompare(b.name));
      sendJson(res, 200, { items });
    }),

    route("POST", /^\/webapi\/tokens$/, async (req, res, r) => {
      const body = await readJson(req);
      const roles = strList(body, "roles");
      if (roles.length === 0) throw badParameter('name the token\'s roles, such as ["node"]');
      const ttl = num(body, "ttl_seconds");
      if (ttl !== undefined && !Number.isInteger(ttl)) throw badParameter('field "ttl_seconds" must be a whole number');
      // Auth checks the `token` create rule, the roles and the TTL bounds.
      const saved = await r.user.client.createToken({ roles, ttlSeconds: BigInt(ttl ?? 0) });
      const item = tokenItem(fromProto(saved) as unknown as StoredResource);
      sendJson(res, 200, { ...item, command: joinCommand(item, deps.publicAddr) });
    }),

    route("DELETE", /^\/webapi\/tokens\/([^/]+)$/, async (_req, res, r) => {
      await r.user.client.deleteResource({ kind: "token", name: param(r, 0) });
      sendNoContent(res);
    }),
  ];
}
