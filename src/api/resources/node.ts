/** `node` v2: an SSH server, either a Jumpgate agent or an agentless OpenSSH host. */
import { z } from "zod";
import { bool, duration, metadata, nonEmptyString, nonEmptyStringList, str, strict, stringList } from "./schema.ts";

const commandLabel = strict({
  period: duration,
  command: nonEmptyStringList,
  result: str.optional(),
});

export const nodeSpec = strict({
  addr: str.prefault(""),
  hostname: nonEmptyString,
  public_addrs: stringList.optional(),
  cmd_labels: z.record(str, commandLabel).optional(),
  use_tunnel: bool.optional(),
  version: str.optional(),
});

export const nodeSchema = strict({
  kind: z.literal("node"),
  version: z.literal("v2"),
  sub_kind: z.literal("openssh", { error: 'expected "openssh" or no sub_kind' }).optional(),
  metadata,
  spec: nodeSpec,
});

export type Node = z.output<typeof nodeSchema>;
export type NodeInput = z.input<typeof nodeSchema>;

/** Static labels plus command-label results: what role node_labels are matched against. */
export function nodeLabels(node: Node): Record<string, string> {
  const out: Record<string, string> = { ...(node.metadata.labels ?? {}) };
  for (const [key, label] of Object.entries(node.spec.cmd_labels ?? {})) {
    if (label.result !== undefined) out[key] = label.result;
  }
  return out;
}
