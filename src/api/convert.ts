import { create, type JsonObject, type JsonValue } from "@bufbuild/protobuf";
import { type Resource, ResourceSchema } from "./gen/jumpgate/v1/resources_pb.ts";
import type { StoredResource } from "./resource.ts";

/** Resource message → the plain document users write (and the schema validates). */
export function fromProto(r: Resource | undefined): Record<string, unknown> {
  if (!r) return {};
  const md = r.metadata;
  const metadata: Record<string, unknown> = { name: md?.name ?? "" };
  if (md?.description) metadata.description = md.description;
  if (md && Object.keys(md.labels).length > 0) metadata.labels = { ...md.labels };
  if (md?.expires) metadata.expires = md.expires;
  const doc: Record<string, unknown> = { kind: r.kind, version: r.version, metadata };
  if (r.subKind) doc.sub_kind = r.subKind;
  if (r.spec !== undefined) doc.spec = r.spec;
  return doc;
}

export function toProto(res: StoredResource): Resource {
  const md = res.metadata;
  return create(ResourceSchema, {
    kind: res.kind,
    version: res.version,
    subKind: res.sub_kind ?? "",
    metadata: {
      name: md.name,
      description: md.description ?? "",
      labels: md.labels ?? {},
      expires: md.expires ?? "",
      // Teleport exports carry a UUID here; only our own numeric revisions travel.
      revision: typeof md.revision === "number" && Number.isSafeInteger(md.revision) ? BigInt(md.revision) : 0n,
    },
    spec: toJsonObject(res.spec),
  });
}

/** Proto Struct cannot hold undefined; JSON round-trip drops it as YAML would. */
export function toJsonObject(v: unknown): JsonObject {
  if (v === undefined || v === null || typeof v !== "object") return {};
  return JSON.parse(JSON.stringify(v)) as JsonObject;
}

export function toJsonValue(v: unknown): JsonValue {
  return JSON.parse(JSON.stringify(v ?? null)) as JsonValue;
}

/** Back to a StoredResource on the client side, revision included. */
export function storedFromProto(r: Resource): StoredResource {
  const doc = fromProto(r) as unknown as StoredResource;
  doc.metadata.revision = Number(r.metadata?.revision ?? 0n);
  return doc;
}
