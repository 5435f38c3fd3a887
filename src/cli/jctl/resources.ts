import { readFileSync } from "node:fs";
import { stringify } from "yaml";
import type { AuthClient } from "../../api/authclient.ts";
import { fromProto, storedFromProto, toProto } from "../../api/convert.ts";
import { alreadyExists, badParameter } from "../../api/errors.ts";
import type { StoredResource } from "../../api/resource.ts";
import { parseYamlDocuments, type Role } from "../../api/resources/index.ts";
import { checkRole } from "../../lib/auth/index.ts";
import { type Format, formatDate, render, table } from "../../lib/client/index.ts";

export async function createFromFile(auth: AuthClient, file: string, force: boolean): Promise<string[]> {
  let text: string;
  try {
    text = file === "-" ? readFileSync(0, "utf8") : readFileSync(file, "utf8");
  } catch {
    throw badParameter(`cannot read ${file}`);
  }
  // Every document is validated before the first is sent, so a bad file writes nothing.
  const docs = parseYamlDocuments(text, file) as StoredResource[];
  for (const d of docs) if (d.kind === "role") checkRole(d as unknown as Role);
  if (docs.length === 0) throw badParameter(`${file} holds no resources`);
  if (!force) {
    // Refuse the whole file before writing anything when one document already exists.
    for (const doc of docs) {
      const exists = await auth.getResource({ kind: doc.kind, name: doc.metadata.name }).then(
        () => true,
        () => false,
      );
      if (exists) throw alreadyExists(`${doc.kind} "${doc.metadata.name}" already exists; use --force to overwrite`);
    }
  }
  const out: string[] = [];
  for (const doc of docs) {
    await auth.upsertResource({ resource: toProto(doc), overwrite: force });
    out.push(`${doc.kind} "${doc.metadata.name}" has been ${force ? "created or updated" : "created"}`);
  }
  return out;
}

function splitRef(ref: string): { kind: string; name: string } {
  const i = ref.indexOf("/");
  return i < 0 ? { kind: ref, name: "" } : { kind: ref.slice(0, i), name: ref.slice(i + 1) };
}

/** What users see: the document as they would write it, without server bookkeeping. */
function clean(r: StoredResource): Record<string, unknown> {
  const doc = fromProto(toProto(r));
  return doc;
}

export async function getResources(auth: AuthClient, ref: string, format: Format): Promise<string> {
  const { kind, name } = splitRef(ref);
  const items = name ? [storedFromProto(await auth.getResource({ kind, name }))] : (await auth.listResources({ kind })).resources.map(storedFromProto);
  const docs = items.map(clean);
  if (format === "json") return JSON.stringify(name ? docs[0] : docs, null, 2);
  if (format === "yaml") return docs.map((d) => stringify(d).trimEnd()).join("\n---\n");
  return render(docs, "text", () =>
    table(
      ["Kind", "Name", "Labels", "Expires"],
      items.map((r) => [
        r.kind,
        r.metadata.name,
        Object.entries(r.metadata.labels ?? {})
          .map(([k, v]) => `${k}=${v}`)
          .join(","),
        r.metadata.expires ? formatDate(r.metadata.expires) : "",
      ]),
    ),
  );
}

export async function removeResource(auth: AuthClient, ref: string): Promise<string> {
  const { kind, name } = splitRef(ref);
  if (!name) throw badParameter(`name the resource to remove as KIND/NAME, e.g. role/${kind || "dev"}`);
  await auth.deleteResource({ kind, name });
  return `${kind} "${name}" has been deleted`;
}
