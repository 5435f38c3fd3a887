import { badParameter } from "../../api/errors.ts";
import { parseResource, type Role } from "../../api/resources/index.ts";
import { validateRole } from "../rbac/index.ts";
import type { StoredResource } from "../services/index.ts";

/**
 * Every write goes through the one schema declared in src/api/resources, and
 * roles also through the RBAC module's checks of templates, patterns and
 * `where` clauses (which the schema layer cannot import).
 */
export function validateResource(doc: unknown): StoredResource {
  const res = parseResource(doc);
  if (res.kind === "role") checkRole(res as Role);
  return res as StoredResource;
}

export function checkRole(role: Role): void {
  const problems = validateRole(role);
  if (problems.length > 0) throw badParameter(`role "${role.metadata.name}": ${problems.join("; ")}`);
}
