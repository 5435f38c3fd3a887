import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { Browser, Page } from "playwright-core";
import WebSocket from "ws";
import { totpCode } from "../../src/lib/auth/index.ts";
import { haveChromium, launchBrowser, openUi, typeInTerminal, type UiPage, waitForTerminal } from "../harness/browser.ts";
import { type Agent, cleanup, type Daemon, run, startAgent, startDaemon, tempDir } from "../harness/cluster.ts";
import { TEST_PASSWORD } from "../harness/users.ts";
import { webJson } from "../harness/web.ts";

// The web UI in Debian's Chromium, driven by playwright-core, against a real
// cluster (auth+proxy daemon and one SSH agent) on loopback.

const NODE = "web-node";
const BAD_STATUS = (codes: string) => new RegExp(`Failed to load resource: the server responded with a status of (${codes})`);

let d: Daemon;
let agent: Agent;
/** A Database Service, started by the database test only. */
let dbAgent: Agent | undefined;
let browser: Browser;
const work = tempDir("web-ui");
const pages: UiPage[] = [];
/** The invited user's TOTP secret, as the invite page showed it. */
let aliceSecret = "";
let alice: UiPage;
/** An administrator (editor, auditor, and allowed to watch access sessions). */
let admin: UiPage;

async function ui(o: { width?: number; height?: number } = {}): Promise<UiPage> {
  const p = await openUi(browser, d.proxyAddr, o);
  pages.push(p);
  return p;
}

async function addUser(name: string, roles: string): Promise<string> {
  const add = await run("jctl", ["--data-dir", d.dataDir, "users", "add", name, `--roles=${roles}`, "--logins=root"]);
  assert.equal(add.code, 0, add.stderr);
  const token = /\/web\/invite\/([0-9a-f]+)/.exec(add.stdout)?.[1];
  assert.ok(token, add.stdout);
  return token;
}

/** Signs in through the form; `otpAt` picks the code's time step (each step can be used once). */
async function signIn(page: Page, user: string, password: string, otp: string): Promise<void> {
  if (!page.url().includes("/web/login")) await page.goto("/web/login");
  await page.getByLabel("Username").fill(user);
  await page.getByLabel("Password").fill(password);
  await page.getByLabel("Authenticator code").fill(otp);
  await page.keyboard.press("Enter");
}

before(async () => {
  assert.ok(haveChromium(), "Debian's chromium is missing: apt-get install chromium (npm test installs it as root)");
  d = await startDaemon({ extraArgs: ["--roles", "auth,proxy"] });
  const tok = JSON.parse((await run("jctl", ["--data-dir", d.dataDir, "tokens", "add", "--type=node", "--format=json"])).stdout);
  writeFileSync(join(work, "agent.yaml"), `version: v3\njumpgate:\n  nodename: ${NODE}\nssh_service:\n  enabled: yes\n  labels:\n    env: web-test\n`);
  agent = await startAgent({ proxyAddr: d.proxyAddr, token: tok.token, config: join(work, "agent.yaml") });
  writeFileSync(
    join(work, "watcher.yaml"),
    "kind: role\nversion: v7\nmetadata: {name: session-watcher}\nspec:\n  allow:\n    join_sessions:\n      - {name: watch, roles: [access], kinds: [ssh], modes: [observer]}\n",
  );
  const c = await run("jctl", ["--data-dir", d.dataDir, "create", "-f", join(work, "watcher.yaml")]);
  assert.equal(c.code, 0, c.stderr);
  browser = await launchBrowser();
});

after(async () => {
  for (const p of pages) await p.close().catch(() => undefined);
  await browser?.close();
  await dbAgent?.stop();
  await agent?.stop();
  await d?.stop();
  cleanup(d?.dataDir ?? "", work, agent?.dataDir ?? "", dbAgent?.dataDir ?? "");
});

test("an invited user sets a password, enrolls TOTP, signs in and sees the test node", async () => {
  const token = await addUser("alice", "access,auditor");
  alice = await ui();
  const { page } = alice;
  await page.goto(`/web/invite/${token}`);
  await page.locator(".invite-user", { hasText: "alice" }).waitFor();
  assert.ok(await page.locator(".qr svg").isVisible(), "the QR code is shown");
  aliceSecret = (await page.locator(".totp-secret").innerText()).trim();
  assert.match(aliceSecret, /^[A-Z2-7]{16,}$/);
  await page.getByLabel("New password").fill(TEST_PASSWORD);
  await page.getByLabel("Confirm password").fill(TEST_PASSWORD);
  await page.getByLabel("Code from the app").fill(totpCode(aliceSecret, new Date()));
  await page.keyboard.press("Enter");
  await page.waitForURL(/\/web\/login/);
  await page.getByText("Your account is ready").waitFor();
  assert.equal(await page.getByLabel("Username").inputValue(), "alice");
  await signIn(page, "alice", TEST_PASSWORD, totpCode(aliceSecret, new Date(Date.now() + 30_000)));
  await page.waitForURL(/\/web\/resources$/);
  const row = page.locator(`tr[data-resource="${NODE}"]`);
  await row.waitFor();
  assert.match(await row.innerText(), /env=web-test/);
  assert.equal(await page.locator(".topbar .user").innerText(), "alice");
  assert.equal(await page.locator(".topbar .cluster").innerText(), "test.local");
  alice.assertNoConsoleErrors();
});

test("the web terminal runs a command, follows the window size, and reports the exit status", async () => {
  const { page } = alice;
  await page.getByRole("button", { name: `Connect to ${NODE} as root` }).click();
  await page.waitForURL(new RegExp(`/web/terminal/${NODE}/root$`));
  await page.locator('.terminal-status[data-state="open"]').waitFor({ timeout: 15_000 });
  await typeInTerminal(page, "echo web-$((6*7))");
  await waitForTerminal(page, /^web-42\s*$/m);

  await typeInTerminal(page, "echo A=$(stty size)=A");
  const a = await waitForTerminal(page, /A=(\d+) (\d+)=A/);
  await page.setViewportSize({ width: 900, height: 520 });
  await page.waitForTimeout(400);
  await typeInTerminal(page, "echo B=$(stty size)=B");
  const b = await waitForTerminal(page, /B=(\d+) (\d+)=B/);
  assert.notDeepEqual([b[1], b[2]], [a[1], a[2]], `stty size stayed ${a[1]} ${a[2]} after the resize`);
  assert.ok(Number(b[2]) < Number(a[2]), `a narrower window gives fewer columns (${a[2]} → ${b[2]})`);

  await typeInTerminal(page, "exit 0");
  await page.locator('.terminal-status[data-state="exited"]', { hasText: "exit status 0" }).waitFor({ timeout: 15_000 });
  await page.setViewportSize({ width: 1280, height: 800 });
  alice.assertNoConsoleErrors();
});

test("the session appears under recordings and the player shows its output", async () => {
  const { page } = alice;
  await page.getByRole("link", { name: "Recordings" }).click();
  await page.waitForURL(/\/web\/recordings$/);
  const row = page.locator("table.recordings tbody tr", { hasText: NODE }).first();
  const deadline = Date.now() + 20_000;
  while (!(await row.isVisible()) || /in progress/.test(await row.innerText())) {
    assert.ok(Date.now() < deadline, "the recording never appeared");
    await page.waitForTimeout(500);
    await page.getByRole("button", { name: "Refresh" }).click();
  }
  assert.match(await row.innerText(), /alice/);
  await row.getByRole("link", { name: /Play/ }).click();
  await page.waitForURL(/\/web\/recordings\/[^/]+$/);
  await page.getByLabel("Speed").selectOption("8");
  await waitForTerminal(page, /^web-42\s*$/m, 20_000, ".player-screen");
  // Seeking re-renders from the start: back to 0 clears the screen, to the end shows it all again.
  await page
    .getByRole("button", { name: "Pause" })
    .click()
    .catch(() => undefined);
  await page.getByLabel("Position").fill("0");
  assert.doesNotMatch(await page.locator(".player-screen .xterm-rows").innerText(), /web-42/);
  const max = await page.getByLabel("Position").getAttribute("max");
  await page.getByLabel("Position").fill(max ?? "0");
  await waitForTerminal(page, /^web-42\s*$/m, 5_000, ".player-screen");
  await page.locator(".player-events li", { hasText: "session.start" }).first().waitFor();
  alice.assertNoConsoleErrors();
});

test("the audit log shows the sign-in and the session, and the type filter narrows it", async () => {
  const { page } = alice;
  await page.getByRole("link", { name: "Audit log" }).click();
  await page.waitForURL(/\/web\/audit$/);
  await page.locator('tr[data-event="user.login"]').first().waitFor();
  await page.locator('tr[data-event="session.start"]').first().waitFor();
  const all = await page.locator("table.audit tbody tr").count();
  const kinds = new Set(await page.locator("table.audit tbody tr").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-event"))));
  assert.ok(kinds.size > 1, `several event types before filtering: ${[...kinds].join(", ")}`);
  await page.getByLabel("Event types").fill("session.start");
  await page.keyboard.press("Enter");
  const rowKinds = () => page.locator("table.audit tbody tr").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-event")));
  for (let i = 0; !(await rowKinds()).every((k) => k === "session.start"); i++) {
    assert.ok(i < 100, `the type filter did not narrow the table: ${(await rowKinds()).join(", ")}`);
    await page.waitForTimeout(100);
  }
  const filtered = await page.locator("table.audit tbody tr").count();
  assert.ok(filtered >= 1 && filtered < all, `filter narrowed ${all} rows to ${filtered}`);
  // A row opens the full event as JSON; Escape closes it.
  await page.locator("table.audit tbody tr").first().click();
  const json = await page.locator("dialog pre.json").innerText();
  assert.equal(JSON.parse(json).event, "session.start");
  await page.keyboard.press("Escape");
  await page.locator("dialog").waitFor({ state: "detached" });
  const href = await page.getByRole("link", { name: "Export JSON lines" }).getAttribute("href");
  assert.match(href ?? "", /^\/webapi\/audit\/export\?.*type=session\.start/);
  alice.assertNoConsoleErrors();
});

test("a state-changing call without the CSRF token and a WebSocket from another origin are refused", async () => {
  const { page, context } = alice;
  alice.allow(BAD_STATUS("403"));
  const r = await page.evaluate(async () => {
    const res = await fetch("/webapi/sessions/current", { method: "DELETE" });
    return { status: res.status, body: await res.text() };
  });
  assert.equal(r.status, 403);
  assert.match(r.body, /CSRF/);
  const still = await page.evaluate(async () => (await fetch("/webapi/sessions/current")).status);
  assert.equal(still, 200, "the session survives the refused sign-out");

  const cookie = (await context.cookies()).map((c) => `${c.name}=${c.value}`).join("; ");
  const refused = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const ws = new WebSocket(`wss://${d.proxyAddr}/webapi/terminal?node=${NODE}&login=root`, {
      origin: "https://evil.example",
      headers: { cookie },
      rejectUnauthorized: false,
    });
    ws.on("open", () => reject(new Error("a cross-origin WebSocket was accepted")));
    ws.on("unexpected-response", (_req, res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    ws.on("error", () => undefined);
  });
  assert.equal(refused.status, 403);
  assert.match(refused.body, /"error"/);
  alice.assertNoConsoleErrors();
});

test("wrong password and wrong TOTP code are refused with a clear message", async () => {
  const u = await ui();
  u.allow(BAD_STATUS("403"));
  await u.page.goto("/web/login");
  const good = new Set([-30_000, 0, 30_000].map((dt) => totpCode(aliceSecret, new Date(Date.now() + dt))));
  const wrongCode = ["000000", "111111", "222222", "333333"].find((c) => !good.has(c)) ?? "444444";
  await signIn(u.page, "alice", "not the password at all", wrongCode);
  await u.page
    .getByRole("alert")
    .filter({ hasText: /invalid username, password or second factor/i })
    .waitFor();
  await u.page.getByLabel("Password").fill(TEST_PASSWORD);
  await u.page.getByLabel("Authenticator code").fill(wrongCode);
  await u.page.keyboard.press("Enter");
  await u.page
    .getByRole("alert")
    .filter({ hasText: /invalid username, password or second factor/i })
    .waitFor();
  assert.match(u.page.url(), /\/web\/login/);
  u.assertNoConsoleErrors();
});

test("an admin creates a role in the YAML editor; a malformed role shows the error at its line and saves nothing", async () => {
  const token = await addUser("webadmin", "editor,access,auditor,session-watcher");
  const inv = await webJson(d.proxyAddr, "GET", `/webapi/invites/${token}`);
  const secret = String(inv.body.totp_secret);
  const done = await webJson(d.proxyAddr, "POST", `/webapi/invites/${token}`, { password: TEST_PASSWORD, totp_code: totpCode(secret, new Date()) });
  assert.equal(done.status, 200, done.text);
  admin = await ui();
  const { page } = admin;
  await page.goto("/web/admin/roles");
  await page.waitForURL(/\/web\/login\?next=/);
  await signIn(page, "webadmin", TEST_PASSWORD, totpCode(secret, new Date(Date.now() + 30_000)));
  await page.waitForURL(/\/web\/admin\/roles$/);

  await page.getByRole("button", { name: "New role" }).click();
  await page.getByLabel("Name").fill("web-tester");
  await page
    .getByLabel("Role (YAML)")
    .fill(
      [
        "kind: role",
        "version: v7",
        "metadata:",
        "  name: web-tester",
        "  description: made in the browser",
        "spec:",
        "  allow:",
        "    logins: [root]",
        "    node_labels:",
        "      env: web-test",
        "",
      ].join("\n"),
    );
  await page.getByRole("button", { name: "Save role" }).click();
  await page.getByRole("status").filter({ hasText: "Role web-tester saved." }).waitFor();
  await page.locator('li[data-role="web-tester"]').waitFor();
  const got = await run("jctl", ["--data-dir", d.dataDir, "get", "role/web-tester"]);
  assert.equal(got.code, 0, got.stderr);
  assert.match(got.stdout, /made in the browser/);

  admin.allow(BAD_STATUS("400"));
  await page.getByRole("button", { name: "New role" }).click();
  await page.getByLabel("Name").fill("web-broken");
  await page
    .getByLabel("Role (YAML)")
    .fill(["kind: role", "version: v7", "metadata:", "  name: web-broken", "spec:", "  allow:", "    logins: {not: a-list}", ""].join("\n"));
  await page.getByRole("button", { name: "Save role" }).click();
  const err = page.locator(".yaml-error");
  await err.waitFor();
  assert.match(await err.innerText(), /logins/);
  const none = await run("jctl", ["--data-dir", d.dataDir, "get", "role/web-broken"]);
  assert.notEqual(none.code, 0, "the malformed role was not saved");
  // The error names the line of `logins:` (line 7), marked in the editor's gutter too.
  assert.match(await err.innerText(), /^Line 7\b/, "the API's error body carries line/column");
  assert.equal((await page.locator(".yaml-editor .ln.err").innerText()).replace(/\D/g, ""), "7");
  admin.assertNoConsoleErrors();
});

test("a running web session is listed under active sessions and an observer sees it live", async () => {
  await alice.page.goto("/web/resources");
  await alice.page.getByRole("button", { name: `Connect to ${NODE} as root` }).click();
  await alice.page.locator('.terminal-status[data-state="open"]').waitFor({ timeout: 15_000 });
  const sid = /session (\S+)/.exec(await alice.page.locator(".terminal-status").innerText())?.[1] ?? "";
  assert.ok(sid, "the terminal shows its session id");

  const { page } = admin;
  await page.getByRole("link", { name: "Active sessions" }).click();
  const row = page.locator(`tr[data-session="${sid}"]`);
  for (let i = 0; !(await row.isVisible()); i++) {
    assert.ok(i < 40, "alice's session never appeared under active sessions");
    await page.waitForTimeout(250);
    await page.getByRole("button", { name: "Refresh" }).click();
  }
  assert.match(await row.innerText(), /alice/);
  assert.equal(await row.getByRole("button", { name: "Join as peer" }).count(), 0, "only the modes the roles allow are offered");
  await row.getByRole("button", { name: "Join as observer" }).click();
  await page.waitForURL(new RegExp(`/web/sessions/${sid}/join/observer$`));
  await page.locator('.terminal-status[data-state="open"]').waitFor({ timeout: 15_000 });
  await typeInTerminal(alice.page, "echo seen-by-$((20+1))-observer");
  await waitForTerminal(alice.page, /^seen-by-21-observer\s*$/m);
  await waitForTerminal(page, /^seen-by-21-observer\s*$/m);
  await typeInTerminal(alice.page, "exit");
  await alice.page.locator('.terminal-status[data-state="exited"]').waitFor({ timeout: 15_000 });
  await page.locator('.terminal-status:not([data-state="open"])').waitFor({ timeout: 15_000 });
  alice.assertNoConsoleErrors();
  admin.assertNoConsoleErrors();
});

test("an expired or unknown session cookie sends the user to sign in, saying the session expired", async () => {
  const { page, context } = alice;
  alice.allow(BAD_STATUS("401"));
  await context.clearCookies();
  await context.addCookies([
    { name: "__Host-jumpgate_session", value: "0".repeat(64), url: `https://${d.proxyAddr}/`, secure: true, httpOnly: true, sameSite: "Strict" },
  ]);
  await page.getByRole("link", { name: "Resources", exact: true }).click();
  await page.waitForURL(/\/web\/login\?expired=1/);
  await page
    .getByRole("status")
    .filter({ hasText: /session has expired/i })
    .waitFor();
  alice.assertNoConsoleErrors();
});

test("a database from a Database Service is listed, and its Connect dialog gives the jsh commands for the chosen db user", async () => {
  // A Database Service announcing the local PostgreSQL (nothing connects to it here), and a role for it.
  writeFileSync(
    join(work, "db-agent.yaml"),
    "version: v3\njumpgate:\n  nodename: web-db-agent\ndb_service:\n  enabled: yes\n  databases:\n    - name: pg-web\n      description: Orders database\n      protocol: postgres\n      uri: 127.0.0.1:5432\n      static_labels: {env: web-db}\n",
  );
  writeFileSync(
    join(work, "db-role.yaml"),
    "kind: role\nversion: v7\nmetadata: {name: web-db}\nspec:\n  allow:\n    db_labels: {env: web-db}\n    db_users: [reader, writer]\n    db_names: [app, orders]\n",
  );
  const role = await run("jctl", ["--data-dir", d.dataDir, "create", "-f", join(work, "db-role.yaml")]);
  assert.equal(role.code, 0, role.stderr);
  const tok = await run("jctl", ["--data-dir", d.dataDir, "tokens", "add", "--type=db", "--format=json"]);
  assert.equal(tok.code, 0, tok.stderr);
  dbAgent = await startAgent({
    proxyAddr: d.proxyAddr,
    token: JSON.parse(tok.stdout).token as string,
    config: join(work, "db-agent.yaml"),
    extraArgs: ["--roles=db"],
  });

  const token = await addUser("dbweb", "access,web-db");
  const inv = await webJson(d.proxyAddr, "GET", `/webapi/invites/${token}`);
  const secret = String(inv.body.totp_secret);
  const done = await webJson(d.proxyAddr, "POST", `/webapi/invites/${token}`, { password: TEST_PASSWORD, totp_code: totpCode(secret, new Date()) });
  assert.equal(done.status, 200, done.text);
  const u = await ui();
  const { page } = u;
  await page.goto("/web/resources");
  await page.waitForURL(/\/web\/login/);
  await signIn(page, "dbweb", TEST_PASSWORD, totpCode(secret, new Date(Date.now() + 30_000)));
  await page.waitForURL(/\/web\/resources$/);

  // The heartbeat may come a moment after the tunnel: refresh until the row is there.
  const row = page.locator('tr[data-resource="pg-web"][data-kind="db"]');
  for (let i = 0; !(await row.isVisible()); i++) {
    assert.ok(i < 60, "the database never appeared in the resource list");
    await page.waitForTimeout(250);
    await page.getByRole("button", { name: "Refresh" }).click();
  }
  const text = await row.innerText();
  assert.match(text, /Database · postgres/);
  assert.match(text, /env=web-db/);
  assert.match(text, /Orders database/);

  // Keyboard only: focus the Connect button, Enter opens the dialog, focus moves into it.
  await row.getByRole("button", { name: "Connect to database pg-web" }).focus();
  await page.keyboard.press("Enter");
  const dialog = page.getByRole("dialog", { name: "Connect to pg-web" });
  await dialog.waitFor();
  assert.ok(await dialog.evaluate((el) => el.contains(el.ownerDocument.activeElement)), "focus is inside the dialog");
  const value = (label: string) => dialog.getByLabel(label, { exact: true }).inputValue();
  const [host, port] = d.proxyAddr.split(":");
  assert.equal(await value("Sign in with jsh (if you have not yet; add --insecure for a demo proxy)"), `jsh login --proxy=${host}:${port} --user=dbweb`);
  assert.equal(await value("Get a certificate for this database"), "jsh db login pg-web --db-user=reader --db-name=app");
  assert.equal(await value("Connect with psql"), "jsh db connect pg-web --db-user=reader --db-name=app");
  assert.equal(await value("Or open a local tunnel for any client"), "jsh proxy db pg-web --tunnel --port=15432 --db-user=reader --db-name=app");
  assert.equal(await value("Then, in another terminal, run psql"), 'psql "host=127.0.0.1 port=15432 user=reader dbname=app sslmode=disable"');

  // Choosing another db user and name updates every command.
  await dialog.getByLabel("Database user").selectOption("writer");
  await dialog.getByLabel("Database name").selectOption("orders");
  assert.equal(await value("Connect with psql"), "jsh db connect pg-web --db-user=writer --db-name=orders");
  assert.equal(await value("Then, in another terminal, run psql"), 'psql "host=127.0.0.1 port=15432 user=writer dbname=orders sslmode=disable"');

  // Tab stays inside the modal dialog; Escape closes it.
  for (let i = 0; i < 20; i++) {
    await page.keyboard.press("Tab");
    const inside = await dialog.evaluate((el) => el.contains(el.ownerDocument.activeElement) || el.ownerDocument.activeElement === el.ownerDocument.body);
    assert.ok(inside, "Tab left the dialog");
  }
  await page.keyboard.press("Escape");
  await page.locator("dialog").waitFor({ state: "detached" });
  u.assertNoConsoleErrors();
});
