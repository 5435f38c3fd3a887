/** Test fixtures: roles built through the real schema, so tests see what production sees. */
import { parseResourceOf, type Role, type RoleInput } from "../../api/resources/index.ts";

export function role(name: string, spec: RoleInput["spec"] = {}, version: RoleInput["version"] = "v7"): Role {
  return parseResourceOf("role", { kind: "role", version, metadata: { name }, spec });
}
