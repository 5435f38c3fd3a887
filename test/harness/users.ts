import { spawnSync } from "node:child_process";
import { totpCode } from "../../src/lib/auth/index.ts";
import { type Daemon, run, tempDir } from "./cluster.ts";
import { webJson } from "./web.ts";

export const TEST_PASSWORD = "a test password that is long";

export interface LoggedIn {
  name: string;
  home: string;
  env: Record<string, string>;
  /** The TOTP secret enrolled at the invite (to sign in to the web UI too). */
  secret: string;
  jsh(args: string[], opts?: { input?: string; timeoutMs?: number }): ReturnType<typeof run>;
}

/** Creates a user with jctl, completes the invite through the web API, and logs in with jsh. */
export async function userLoggedIn(d: Daemon, name: string, roles: string, logins: string, o: { ttl?: string } = {}): Promise<LoggedIn> {
  const add = await run("jctl", ["--data-dir", d.dataDir, "users", "add", name, `--roles=${roles}`, `--logins=${logins}`]);
  if (add.code !== 0) throw new Error(`jctl users add: ${add.stderr}`);
  const token = /\/web\/invite\/([0-9a-f]+)/.exec(add.stdout)?.[1] ?? "";
  const inv = await webJson(d.proxyAddr, "GET", `/webapi/invites/${token}`);
  const secret = String(inv.body.totp_secret);
  const done = await webJson(d.proxyAddr, "POST", `/webapi/invites/${token}`, {
    password: TEST_PASSWORD,
    totp_code: totpCode(secret, new Date()),
  });
  if (done.status !== 200) throw new Error(`invite: ${done.text}`);
  const home = tempDir(`jsh-${name}`);
  const env = { JSH_HOME: home };
  const login = await run(
    "jsh",
    [
      "login",
      `--proxy=${d.proxyAddr}`,
      `--user=${name}`,
      "--insecure",
      `--otp=${totpCode(secret, new Date(Date.now() + 30_000))}`,
      ...(o.ttl ? [`--ttl=${o.ttl}`] : []),
    ],
    { env: { ...env, JSH_PASSWORD: TEST_PASSWORD } },
  );
  if (login.code !== 0) throw new Error(`jsh login: ${login.stderr}`);
  return { name, home, env, secret, jsh: (args, opts = {}) => run("jsh", args, { env, ...opts }) };
}

/** An OS account for logins in tests (they run as root). */
export function ensureOsUser(name: string): void {
  if (spawnSync("id", [name]).status === 0) return;
  const r = spawnSync("useradd", ["-m", "-s", "/bin/bash", name]);
  if (r.status !== 0) throw new Error(`useradd ${name}: ${r.stderr}`);
}

/** Polls until `fn` returns true or the time is up. */
export async function eventually(fn: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await fn().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
