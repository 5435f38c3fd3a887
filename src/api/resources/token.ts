/** `token` v2: a join token. `metadata.name` is the secret itself. */
import { z } from "zod";
import { metadata, oneOf, resourceName, strict } from "./schema.ts";

export const TOKEN_ROLES = ["node", "proxy", "db", "app", "kube", "bot", "desktop"] as const;
export type TokenRole = (typeof TOKEN_ROLES)[number];

/** Teleport writes system roles capitalised ("Node", "Db", "WindowsDesktop"). */
const TELEPORT_ROLE_NAMES: Readonly<Record<string, TokenRole>> = {
  windowsdesktop: "desktop",
  database: "db",
  kubernetes: "kube",
};

const tokenRole = z.preprocess((v) => {
  if (typeof v !== "string") return v;
  const lower = v.toLowerCase();
  return TELEPORT_ROLE_NAMES[lower] ?? lower;
}, oneOf(TOKEN_ROLES));

export const tokenSpec = strict({
  roles: z
    .array(tokenRole, { error: (iss) => (iss.input === undefined ? "required" : "expected a list of roles") })
    .min(1, { error: "must list at least one role" }),
  join_method: oneOf(["token"]).prefault("token"),
  bot_name: resourceName.optional(),
  /** Consumed by the first successful join, whatever its TTL. */
  single_use: z.boolean().optional(),
}).superRefine((spec, ctx) => {
  const isBot = spec.roles.includes("bot");
  if (isBot && spec.bot_name === undefined) {
    ctx.addIssue({ code: "custom", path: ["bot_name"], message: 'required for a token with the "bot" role' });
  }
  if (!isBot && spec.bot_name !== undefined) {
    ctx.addIssue({ code: "custom", path: ["bot_name"], message: 'only allowed with the "bot" role' });
  }
});

export const tokenSchema = strict({
  kind: z.literal("token"),
  version: z.literal("v2"),
  metadata,
  spec: tokenSpec,
});

export type Token = z.output<typeof tokenSchema>;
export type TokenInput = z.input<typeof tokenSchema>;
