import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { FakeClock } from "../../../api/clock.ts";
import { MemoryBackend } from "../../backend/index.ts";
import { MemoryAuditLog } from "../../events/index.ts";
import type { AuthConfig } from "../context.ts";
import { AuthServer } from "../server.ts";
import { totpCode } from "../totp.ts";
import { completeInvite, createUser } from "../users.ts";

export const PASSWORD = "a long enough password";

/** An Auth Service on the memory backend with a clock the test moves. */
export async function authFixture(config: Partial<AuthConfig> = {}, start = new Date("2026-06-01T12:00:00Z")) {
  const clock = new FakeClock(start);
  const backend = new MemoryBackend({ clock, sweepIntervalMs: 0 });
  const audit = new MemoryAuditLog({ clock });
  const server = await AuthServer.create({
    backend,
    audit,
    clock,
    log: pino({ level: "silent" }),
    config: {
      clusterName: "unit.test",
      publicProxyAddr: "proxy.unit.test:3080",
      secondFactor: "otp",
      lockout: { maxAttempts: 5, lockoutMs: 20 * 60_000 },
      staticTokens: [],
      inviteTtlMs: 3600_000,
      version: "test",
      recordingsDir: mkdtempSync(join(tmpdir(), "jg-recordings-")),
      ...config,
    },
  });
  const ctx = server.ctx;

  /** Creates a user and completes the invite; returns the TOTP secret. */
  async function addUser(name: string, roles: string[], traits: Record<string, string[]> = {}): Promise<string> {
    const { invite } = await createUser(ctx, { name, roles, traits, actor: "test" });
    const rec = await ctx.stores.userTokens.get(invite.token);
    const secret = rec?.value.totpSecret ?? "";
    await completeInvite(ctx, { token: invite.token, password: PASSWORD, totpCode: totpCode(secret, clock.now()) });
    return secret;
  }

  const auditEvents = async (type: string) => (await audit.search({ from: new Date(0), to: new Date(clock.now().getTime() + 1000), types: [type] })).events;

  return { clock, backend, audit, server, ctx, addUser, auditEvents, close: () => Promise.all([backend.close(), audit.close()]) };
}
