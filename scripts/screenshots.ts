// `npm run screenshots`: starts a demo cluster on loopback (auth+proxy and one
// SSH agent), signs in through Chromium and saves a PNG of each main page of
// the web UI into docs/images/. Not part of the tests.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { totpCode } from "../src/lib/auth/index.ts";
import { launchBrowser, openUi, typeInTerminal, waitForTerminal } from "../test/harness/browser.ts";
import { cleanup, ROOT, run, startAgent, startDaemon, tempDir } from "../test/harness/cluster.ts";
import { TEST_PASSWORD } from "../test/harness/users.ts";
import { webJson } from "../test/harness/web.ts";

const OUT = join(ROOT, "docs", "images");
mkdirSync(OUT, { recursive: true });

async function invite(dataDir: string, name: string, roles: string): Promise<string> {
  const add = await run("jctl", ["--data-dir", dataDir, "users", "add", name, `--roles=${roles}`, "--logins=root,ubuntu"]);
  const token = /\/web\/invite\/([0-9a-f]+)/.exec(add.stdout)?.[1];
  if (!token) throw new Error(`jctl users add: ${add.stderr}`);
  return token;
}

async function shot(page: Page, name: string): Promise<void> {
  await page.waitForTimeout(300);
  await page.locator("h1").first().scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(OUT, `${name}.png`), fullPage: name === "player" });
  console.log(`docs/images/${name}.png`);
}

const work = tempDir("screenshots");
const d = await startDaemon({ extraArgs: ["--roles", "auth,proxy", "--cluster-name", "demo.example"] });
const agents: Awaited<ReturnType<typeof startAgent>>[] = [];
const browser = await launchBrowser();
try {
  const tok = JSON.parse((await run("jctl", ["--data-dir", d.dataDir, "tokens", "add", "--type=node", "--format=json"])).stdout);
  for (const [name, env] of [
    ["web-1", "prod"],
    ["db-gateway", "staging"],
  ] as const) {
    const cfg = join(work, `${name}.yaml`);
    writeFileSync(cfg, `version: v3\njumpgate:\n  nodename: ${name}\nssh_service:\n  enabled: yes\n  labels:\n    env: ${env}\n    team: platform\n`);
    agents.push(await startAgent({ proxyAddr: d.proxyAddr, token: tok.token, config: cfg }));
  }

  const ui = await openUi(browser, d.proxyAddr, { width: 1280, height: 760 });
  const { page } = ui;

  // The invite page of a second user, as they would see it.
  const bobToken = await invite(d.dataDir, "bob", "access");
  await page.goto(`/web/invite/${bobToken}`);
  await page.locator(".totp-secret").waitFor();
  await shot(page, "invite");

  const adminToken = await invite(d.dataDir, "admin", "editor,access,auditor");
  const inv = await webJson(d.proxyAddr, "GET", `/webapi/invites/${adminToken}`);
  const secret = String(inv.body.totp_secret);
  await webJson(d.proxyAddr, "POST", `/webapi/invites/${adminToken}`, { password: TEST_PASSWORD, totp_code: totpCode(secret, new Date()) });

  await page.goto("/web/login");
  await page.getByLabel("Username").fill("admin");
  await shot(page, "sign-in");
  await page.getByLabel("Password").fill(TEST_PASSWORD);
  await page.getByLabel("Authenticator code").fill(totpCode(secret, new Date(Date.now() + 30_000)));
  await page.keyboard.press("Enter");
  await page.waitForURL(/\/web\/resources$/);
  await page.locator('tr[data-resource="web-1"]').waitFor();
  await page.locator('tr[data-resource="db-gateway"]').waitFor();
  await shot(page, "resources");

  await page.getByRole("button", { name: "Connect to web-1 as root" }).click();
  await page.locator('.terminal-status[data-state="open"]').waitFor();
  await waitForTerminal(page, /[#$]\s*$/m);
  await typeInTerminal(page, "echo web-$((6*7)); uname -sr; ls -la / | head -n 12");
  await waitForTerminal(page, /^web-42\s*$/m);
  await shot(page, "terminal");
  await typeInTerminal(page, "exit");
  await page.locator('.terminal-status[data-state="exited"]').waitFor();

  await page.getByRole("link", { name: "Recordings" }).click();
  const row = page.locator("table.recordings tbody tr", { hasText: "web-1" }).first();
  for (let i = 0; i < 40 && (!(await row.isVisible()) || /in progress/.test(await row.innerText())); i++) {
    await page.waitForTimeout(500);
    await page.getByRole("button", { name: "Refresh" }).click();
  }
  await shot(page, "recordings");
  await row.getByRole("link", { name: /Play/ }).click();
  await page.getByLabel("Speed").selectOption("8");
  await waitForTerminal(page, /^web-42\s*$/m, 20_000, ".player-screen");
  await page.getByRole("button", { name: "Pause" }).click().catch(() => undefined);
  await shot(page, "player");

  await page.getByRole("link", { name: "Audit log" }).click();
  await page.locator("table.audit tbody tr").first().waitFor();
  await shot(page, "audit");

  await page.getByRole("link", { name: "Users" }).click();
  await page.locator('tr[data-user="bob"]').waitFor();
  await shot(page, "users");

  await page.getByRole("link", { name: "Roles" }).click();
  await page.locator('li[data-role="access"]').getByRole("button").click();
  await shot(page, "roles");

  await page.getByRole("link", { name: "Join tokens" }).click();
  await page.getByRole("button", { name: "Create token" }).click();
  await page.locator("dialog").waitFor();
  await shot(page, "tokens");
  await ui.close();
} finally {
  await browser.close();
  for (const a of agents) await a.stop();
  await d.stop();
  cleanup(d.dataDir, work, ...agents.map((a) => a.dataDir));
}
