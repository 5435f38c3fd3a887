import { randomUUID } from "node:crypto";
import type { AuthClient } from "../../api/authclient.ts";
import { storedFromProto, toProto } from "../../api/convert.ts";
import { badParameter } from "../../api/errors.ts";
import { parseDuration } from "../../api/resources/index.ts";
import { type Format, formatDate, render, table } from "../../lib/client/index.ts";
import { csv } from "./users.ts";

export async function tokensAdd(auth: AuthClient, o: { type?: string; ttl?: string; value?: string }, format: Format, proxyHint: string) {
  const roles = csv(o.type);
  if (roles.length === 0) throw badParameter("name the token's use with --type node[,db,app,kube,bot]");
  const ttlMs = o.ttl ? parseDuration(o.ttl) : undefined;
  const t = storedFromProto(
    await auth.createToken({
      roles,
      ttlSeconds: ttlMs ? BigInt(Math.round(ttlMs / 1000)) : 0n,
      ...(o.value ? { name: o.value } : {}),
    }),
  );
  const data = { token: t.metadata.name, roles, expires: t.metadata.expires };
  return render(data, format, () =>
    [
      `The invite token: ${t.metadata.name}`,
      `This token will expire at ${formatDate(t.metadata.expires)}.`,
      "",
      "Run this on the new host to join the cluster:",
      "",
      `  jumpgate start --roles=${roles.join(",")} --token=${t.metadata.name} --proxy=${proxyHint}`,
    ].join("\n"),
  );
}

export async function tokensLs(auth: AuthClient, format: Format) {
  const tokens = (await auth.listResources({ kind: "token" })).resources.map(storedFromProto);
  return render(tokens, format, () =>
    table(
      ["Token", "Type", "Expiry Time (UTC)"],
      tokens.map((t) => [t.metadata.name, ((t.spec as { roles?: string[] }).roles ?? []).join(","), formatDate(t.metadata.expires)]),
    ),
  );
}

export async function statusText(auth: AuthClient, format: Format) {
  const s = await auth.status({});
  const data = {
    cluster: s.clusterName,
    version: s.serverVersion,
    storage: s.storage,
    authorities: s.authorities.map((a) => ({ type: a.type, ssh: a.sshFingerprints, tls: a.tlsFingerprints })),
  };
  return render(data, format, () =>
    [
      `Cluster:      ${s.clusterName}`,
      `Version:      ${s.serverVersion}`,
      ...s.authorities.flatMap((a) => [
        ...a.sshFingerprints.map((f) => `${`${a.type} CA (SSH):`.padEnd(14)}${f}`),
        ...a.tlsFingerprints.map((f) => `${`${a.type} CA (TLS):`.padEnd(14)}SHA256:${f}`),
      ]),
    ].join("\n"),
  );
}

export async function auditEvents(auth: AuthClient, o: { since?: string; type?: string[]; user?: string; limit?: string }, format: Format) {
  const since = parseDuration(o.since ?? "1h");
  const now = new Date();
  const r = await auth.searchEvents({
    from: new Date(now.getTime() - since).toISOString(),
    to: now.toISOString(),
    types: (o.type ?? []).flatMap((t) => csv(t)),
    user: o.user ?? "",
    limit: o.limit ? Number(o.limit) : 500,
    order: "asc",
  });
  const events = r.events;
  if (format === "json") return JSON.stringify(events, null, 2);
  return render(events, format, () =>
    table(
      ["Time", "Event", "Code", "User", "Details"],
      events.map((e) => {
        const { time, event, code, user, uid: _u, cluster: _c, ...rest } = e as Record<string, unknown>;
        return [String(time ?? ""), String(event ?? ""), String(code ?? ""), String(user ?? ""), JSON.stringify(rest)];
      }),
    ),
  );
}

export async function lockCreate(auth: AuthClient, o: { user?: string; role?: string; node?: string; message?: string; ttl?: string }): Promise<string> {
  const target = { ...(o.user ? { user: o.user } : {}), ...(o.role ? { role: o.role } : {}), ...(o.node ? { node: o.node } : {}) };
  if (Object.keys(target).length !== 1) throw badParameter("lock exactly one of --user, --role or --node");
  const now = new Date();
  const name = randomUUID();
  await auth.upsertResource({
    resource: toProto({
      kind: "lock",
      version: "v2",
      metadata: { name },
      spec: {
        target,
        ...(o.message ? { message: o.message } : {}),
        ...(o.ttl ? { expires: new Date(now.getTime() + parseDuration(o.ttl)).toISOString() } : {}),
        created_at: now.toISOString(),
      },
    }),
  });
  return `Created a lock with name "${name}"; remove it with: jctl rm lock/${name}`;
}
