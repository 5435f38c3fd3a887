import type { AuthClient } from "../../api/authclient.ts";
import { storedFromProto } from "../../api/convert.ts";
import { badParameter } from "../../api/errors.ts";
import { type Format, formatDate, render, table } from "../../lib/client/index.ts";

export const csv = (v: string | undefined) =>
  (v ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);

export function traitsFrom(o: { logins?: string; traits?: string[] }): Record<string, { values: string[] }> {
  const t: Record<string, { values: string[] }> = {};
  if (o.logins !== undefined) t.logins = { values: csv(o.logins) };
  for (const kv of o.traits ?? []) {
    const i = kv.indexOf("=");
    if (i <= 0) throw badParameter(`--traits wants KEY=V1,V2, got "${kv}"`);
    t[kv.slice(0, i)] = { values: csv(kv.slice(i + 1)) };
  }
  return t;
}

export async function usersAdd(auth: AuthClient, name: string, o: { roles?: string; logins?: string; traits?: string[] }) {
  const roles = csv(o.roles);
  if (roles.length === 0) throw badParameter("name the user's roles with --roles R1,R2");
  const r = await auth.createUser({ name, roles, traits: traitsFrom(o) });
  return [
    `User "${name}" has been created but requires a password. Share this URL with the user to complete user setup,`,
    `link is valid until ${formatDate(r.expires)}:`,
    "",
    r.inviteUrl,
    "",
    "NOTE: Make sure the host in the URL points at the proxy that users reach.",
  ].join("\n");
}

export async function usersLs(auth: AuthClient, format: Format) {
  const users = (await auth.listResources({ kind: "user" })).resources.map(storedFromProto);
  return render(users, format, () =>
    table(
      ["User", "Roles", "Logins"],
      users.map((u) => {
        const spec = u.spec as { roles?: string[]; traits?: Record<string, string[]> };
        return [u.metadata.name, (spec.roles ?? []).join(","), (spec.traits?.logins ?? []).join(",")];
      }),
    ),
  );
}

export async function usersUpdate(auth: AuthClient, name: string, o: { setRoles?: string; setLogins?: string; setTraits?: string[] }) {
  const setRoles = o.setRoles !== undefined;
  const current = storedFromProto(await auth.getResource({ kind: "user", name }));
  const spec = current.spec as { traits?: Record<string, string[]> };
  let traits: Record<string, { values: string[] }> | undefined;
  if (o.setLogins !== undefined || o.setTraits) {
    traits = Object.fromEntries(Object.entries(spec.traits ?? {}).map(([k, v]) => [k, { values: v }]));
    Object.assign(traits, traitsFrom({ ...(o.setLogins !== undefined ? { logins: o.setLogins } : {}), traits: o.setTraits ?? [] }));
  }
  if (!setRoles && !traits) throw badParameter("nothing to update; use --set-roles or --set-logins");
  await auth.updateUser({ name, roles: csv(o.setRoles), setRoles, traits: traits ?? {}, setTraits: !!traits });
  return `User "${name}" has been updated`;
}

export async function usersReset(auth: AuthClient, name: string) {
  const r = await auth.resetUser({ name });
  return [
    `User "${name}" has been reset. Share this URL with the user to complete password reset,`,
    `link is valid until ${formatDate(r.expires)}:`,
    "",
    r.inviteUrl,
  ].join("\n");
}
