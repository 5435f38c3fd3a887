/**
 * Roles for the YAML editor. Every call goes through the user's client, so
 * Auth's rules on `role` and its escalation guard (no granting more than you
 * hold) apply; the proxy only adds validation with positions before sending.
 */
import { fromProto, toProto } from "../../../../api/convert.ts";
import type { StoredResource } from "../../../../api/resource.ts";
import { parseResourceOf, type Resource, toYaml } from "../../../../api/resources/index.ts";
import type { AuthedRoute } from "../context.ts";
import { readJson, sendJson, str } from "../http.ts";
import { listStored, param, route, sendNoContent } from "./common.ts";
import { MAX_ROLE_YAML_BYTES, parseRoleYaml } from "./yaml-errors.ts";

/** The document as users write it (what `jctl get role/NAME` shows), without server bookkeeping. */
function roleYaml(stored: StoredResource): string {
  const doc = fromProto(toProto(stored));
  try {
    return toYaml([parseResourceOf("role", doc)]);
  } catch {
    // A stored role that no longer validates (an older schema) is still shown, as stored, so it can be fixed.
    return toYaml([doc as unknown as Resource]);
  }
}

export function roleRoutes(): AuthedRoute[] {
  return [
    route("GET", /^\/webapi\/roles$/, async (_req, res, r) => {
      const roles = await listStored(r.user.client, "role");
      const items = roles
        .map((role) => ({ name: role.metadata.name, description: role.metadata.description ?? "", yaml: roleYaml(role) }))
        .sort((a, b) => a.name.localeCompare(b.name));
      sendJson(res, 200, { items });
    }),

    route("GET", /^\/webapi\/roles\/([^/]+)$/, async (_req, res, r) => {
      const name = param(r, 0);
      const role = fromProto(await r.user.client.getResource({ kind: "role", name })) as unknown as StoredResource;
      sendJson(res, 200, { name: role.metadata.name, yaml: roleYaml(role) });
    }),

    route("PUT", /^\/webapi\/roles\/([^/]+)$/, async (req, res, r) => {
      const name = param(r, 0);
      // JSON-escaping may grow the YAML; the YAML itself is held to MAX_ROLE_YAML_BYTES below.
      const body = await readJson(req, 2 * MAX_ROLE_YAML_BYTES);
      const yaml = str(body, "yaml");
      // Everything is checked before Auth is called, so an invalid role writes nothing.
      const role = parseRoleYaml(yaml, name);
      // Auth validates again (it is the authority) and applies the caller's `role` create/update rules.
      const saved = await r.user.client.upsertResource({ resource: toProto(role as unknown as StoredResource), overwrite: true });
      const doc = fromProto(saved) as unknown as StoredResource;
      sendJson(res, 200, { name: doc.metadata.name, yaml: roleYaml(doc) });
    }),

    route("DELETE", /^\/webapi\/roles\/([^/]+)$/, async (_req, res, r) => {
      const name = param(r, 0);
      await r.user.client.deleteResource({ kind: "role", name });
      sendNoContent(res);
    }),
  ];
}
