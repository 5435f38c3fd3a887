import { storedFromProto } from "../../api/convert.ts";
import { badParameter } from "../../api/errors.ts";
import { type Node, nodeLabels } from "../../api/resources/index.ts";
import type { AuthClient } from "../../lib/client/index.ts";
import { type Format, render, table } from "../../lib/client/index.ts";

export interface NodeRow {
  name: string;
  hostname: string;
  addr: string;
  labels: Record<string, string>;
  subKind: string;
}

/** `k=v` arguments: every pair must match the node's labels exactly. */
export function parseSelector(args: string[]): Record<string, string> {
  const sel: Record<string, string> = {};
  for (const a of args) {
    const i = a.indexOf("=");
    if (i <= 0) throw badParameter(`"${a}" is not a label selector; use KEY=VALUE`);
    sel[a.slice(0, i)] = a.slice(i + 1);
  }
  return sel;
}

export async function listNodes(auth: AuthClient, selector: Record<string, string> = {}): Promise<NodeRow[]> {
  const res = (await auth.listResources({ kind: "node" })).resources.map(storedFromProto) as unknown as Node[];
  return res
    .map((n) => ({
      name: n.metadata.name,
      hostname: n.spec.hostname,
      addr: n.spec.use_tunnel ? "⟵ Tunnel" : n.spec.addr,
      labels: nodeLabels(n),
      subKind: n.sub_kind ?? "",
    }))
    .filter((n) => Object.entries(selector).every(([k, v]) => n.labels[k] === v))
    .sort((a, b) => a.hostname.localeCompare(b.hostname));
}

export function renderNodes(rows: NodeRow[], format: Format): string {
  return render(rows, format, () =>
    table(
      ["Node Name", "Address", "Labels"],
      rows.map((r) => [
        r.hostname,
        r.addr,
        Object.entries(r.labels)
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([k, v]) => `${k}=${v}`)
          .join(","),
      ]),
    ),
  );
}
