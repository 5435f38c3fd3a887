/**
 * Application access end to end: an auth+proxy daemon whose public host is
 * `localhost` (Chromium sends *.localhost to loopback, so apps live at
 * NAME.localhost:PORT), an Application Service agent joined by token and
 * reached through its reverse tunnel, a local HTTP app (with a WebSocket echo
 * and an upload sink) and a TCP echo server. Debian's Chromium signs in and
 * opens the app from the resource list; `jsh proxy app` serves curl and a TCP
 * client; refusals are shown and audited; forged, cross-app and stale cookies
 * and JWTs are refused.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { writeFileSync } from "node:fs";
import http, { type IncomingHttpHeaders } from "node:http";
import https from "node:https";
import net from "node:net";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { createLocalJWKSet, jwtVerify, SignJWT } from "jose";
import type { Browser } from "playwright-core";
import WebSocket, { WebSocketServer } from "ws";
import { totpCode } from "../../src/lib/auth/index.ts";
import { haveChromium, launchBrowser, openUi, type UiPage } from "../harness/browser.ts";
import { type Agent, BIN_PATH, cleanup, type Daemon, freePort, ROOT, run, startAgent, startDaemon, tempDir } from "../harness/cluster.ts";
import { auditedEvent } from "../harness/dbaccess.ts";
import { eventually, type LoggedIn, TEST_PASSWORD, userLoggedIn } from "../harness/users.ts";

let d: Daemon;
let agent: Agent;
let browser: Browser;
let alice: LoggedIn;
let bob: LoggedIn;
let port = 0;
/** Just after each user logged in with jsh, whose TOTP code was for 30 s later (codes must move forward). */
const loginTime = new Map<string, number>();
const work = tempDir("apps");
const pages: UiPage[] = [];
const children: ChildProcess[] = [];

/** What the app saw, newest last. */
const seen: { path: string; headers: IncomingHttpHeaders }[] = [];
let app: http.Server;
let tcpEcho: net.Server;

const CLUSTER = "test.local";
const appHost = (name: string) => `${name}.localhost:${port}`;

function startApp(): Promise<number> {
  app = http.createServer((req, res) => {
    seen.push({ path: req.url ?? "", headers: req.headers });
    if (req.method === "POST" && req.url === "/upload") {
      let n = 0;
      req.on("data", (c: Buffer) => (n += c.length));
      req.on("end", () => res.end(`received ${n} bytes`));
      return;
    }
    if (req.url === "/redirect") {
      res.writeHead(302, { location: `http://127.0.0.1:${(app.address() as net.AddressInfo).port}/landing` }).end();
      return;
    }
    res.setHeader("content-type", "text/html");
    res.end(`<!doctype html><title>dash</title><h1 id="hello">hello from the app at ${req.url}</h1>`);
  });
  const wss = new WebSocketServer({ noServer: true });
  app.on("upgrade", (req, socket, head) => {
    seen.push({ path: req.url ?? "", headers: req.headers });
    wss.handleUpgrade(req, socket, head, (ws) => ws.on("message", (m, binary) => ws.send(binary ? m : `echo: ${m.toString()}`)));
  });
  return new Promise((r) => app.listen(0, "127.0.0.1", () => r((app.address() as net.AddressInfo).port)));
}

function startTcpEcho(): Promise<number> {
  tcpEcho = net.createServer((s) => s.pipe(s));
  return new Promise((r) => tcpEcho.listen(0, "127.0.0.1", () => r((tcpEcho.address() as net.AddressInfo).port)));
}

/** A request to the proxy as a browser would send it to an app's host, without following redirects. */
function appRequest(host: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: "127.0.0.1", port, path, servername: host.replace(/:\d+$/, ""), rejectUnauthorized: false, headers: { host, ...headers } },
      (res) => {
        let body = "";
        res.on("data", (c: Buffer) => (body += c.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

async function jwks(): Promise<ReturnType<typeof createLocalJWKSet>> {
  const r = await fetchJson(`/.well-known/jwks.json`);
  return createLocalJWKSet(r as { keys: [] });
}

function fetchJson(path: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    https
      .get({ host: "127.0.0.1", port, path, servername: "localhost", rejectUnauthorized: false, headers: { host: `localhost:${port}` } }, (res) => {
        let body = "";
        res.on("data", (c: Buffer) => (body += c.toString()));
        res.on("end", () => resolve(JSON.parse(body)));
      })
      .on("error", reject);
  });
}

async function signedInUi(u: LoggedIn): Promise<UiPage> {
  const p = await openUi(browser, `localhost:${port}`);
  pages.push(p);
  const { page } = p;
  await page.goto("/web/login");
  await page.getByLabel("Username").fill(u.name);
  await page.getByLabel("Password").fill(TEST_PASSWORD);
  // jsh login used the code one step ahead of it (codes are single-use and
  // must move forward): wait until the step after that one is acceptable.
  const step = (t: number) => Math.floor(t / 30_000);
  const used = (loginTime.get(u.name) ?? Date.now()) + 30_000;
  while (step(Date.now()) < step(used)) await new Promise((r) => setTimeout(r, 500));
  await page.getByLabel("Authenticator code").fill(totpCode(u.secret, new Date(Date.now() + 30_000)));
  await page.keyboard.press("Enter");
  await page.waitForURL(/\/web\/resources$/);
  return p;
}

async function jshProxyApp(u: LoggedIn, name: string): Promise<{ port: number; output(): string }> {
  const p = await freePort();
  const child = spawn(process.execPath, [BIN_PATH("jsh"), "proxy", "app", name, "--port", String(p)], {
    cwd: ROOT,
    env: { ...process.env, ...u.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let out = "";
  child.stdout?.on("data", (b: Buffer) => (out += b.toString()));
  child.stderr?.on("data", (b: Buffer) => (out += b.toString()));
  await eventually(async () => child.exitCode !== null || out.includes(`127.0.0.1:${p}`), 20_000, `jsh proxy app ${name} to listen`);
  assert.equal(child.exitCode, null, out);
  return { port: p, output: () => out };
}

before(async () => {
  assert.ok(haveChromium(), "Debian's chromium is missing: apt-get install chromium (npm test installs it as root)");
  port = await freePort();
  d = await startDaemon({ proxyPort: port, publicHost: "localhost", extraArgs: ["--roles", "auth,proxy"] });
  const appPort = await startApp();
  const tcpPort = await startTcpEcho();
  const tok = JSON.parse((await run("jctl", ["--data-dir", d.dataDir, "tokens", "add", "--type=app", "--format=json"])).stdout);
  writeFileSync(
    join(work, "agent.yaml"),
    [
      "version: v3",
      "jumpgate:",
      "  nodename: app-agent",
      "app_service:",
      "  enabled: yes",
      "  apps:",
      `    - {name: dash, uri: "http://127.0.0.1:${appPort}", labels: {env: dev}, rewrite: {headers: [{name: X-Logins, value: "{{internal.logins}}"}], redirect: [127.0.0.1]}}`,
      `    - {name: dash2, uri: "http://127.0.0.1:${appPort}", labels: {env: dev}}`,
      `    - {name: echo, uri: "tcp://127.0.0.1:${tcpPort}", labels: {env: dev}}`,
      `    - {name: vault, uri: "http://127.0.0.1:${appPort}", labels: {env: prod}}`,
      "",
    ].join("\n"),
  );
  agent = await startAgent({ proxyAddr: d.proxyAddr, token: tok.token, config: join(work, "agent.yaml"), roles: "app" });
  writeFileSync(
    join(work, "roles.yaml"),
    [
      "kind: role",
      "version: v7",
      "metadata: {name: dev-apps}",
      "spec:",
      "  allow:",
      "    logins: ['{{internal.logins}}']",
      "    app_labels: {env: dev}",
      "---",
      "kind: role",
      "version: v7",
      "metadata: {name: no-apps}",
      "spec:",
      "  allow:",
      "    logins: ['{{internal.logins}}']",
      "",
    ].join("\n"),
  );
  const c = await run("jctl", ["--data-dir", d.dataDir, "create", "-f", join(work, "roles.yaml")]);
  assert.equal(c.code, 0, c.stderr);
  alice = await userLoggedIn(d, "alice", "dev-apps", "alice");
  loginTime.set("alice", Date.now());
  bob = await userLoggedIn(d, "bob", "no-apps", "bob");
  loginTime.set("bob", Date.now());
  await eventually(async () => (await alice.jsh(["apps", "ls"])).stdout.includes("echo"), 20_000, "the apps to be announced");
  browser = await launchBrowser();
});

after(async () => {
  for (const c of children) c.kill("SIGTERM");
  for (const p of pages) await p.close().catch(() => undefined);
  await browser?.close();
  await agent?.stop();
  await d?.stop();
  app?.close();
  tcpEcho?.close();
  cleanup(d?.dataDir ?? "", work, agent?.dataDir ?? "", alice?.home ?? "", bob?.home ?? "");
});

test("jsh apps ls lists the apps the roles allow, and jsh apps login refuses the others with the reason", async () => {
  const ls = await alice.jsh(["apps", "ls", "--format=json"]);
  assert.equal(ls.code, 0, ls.stderr);
  const names = (JSON.parse(ls.stdout) as { name: string }[]).map((a) => a.name).sort();
  assert.deepEqual(names, ["dash", "dash2", "echo"]);
  const table = await alice.jsh(["apps", "ls"]);
  assert.match(table.stdout, /dash\.localhost/);
  const denied = await bob.jsh(["apps", "login", "dash"]);
  assert.notEqual(denied.code, 0);
  assert.match(denied.stderr, /access to app dash denied/);
  assert.equal(denied.stderr.trim().split("\n").length, 1, denied.stderr);
});

test("the browser opens the app from the resource list; the app gets a JWT that verifies against the proxy's JWKS; WebSocket and uploads pass", async () => {
  const ui = await signedInUi(alice);
  const { page, context } = ui;
  const row = page.locator('tr[data-resource="dash"]');
  await row.waitFor();
  const [tab] = await Promise.all([context.waitForEvent("page"), row.getByRole("link", { name: /launch/i }).click()]);
  await tab.waitForLoadState();
  await tab.locator("#hello").waitFor();
  assert.equal(new URL(tab.url()).host, appHost("dash"));
  assert.equal(new URL(tab.url()).pathname, "/");

  const last = seen.filter((s) => s.path === "/").at(-1);
  assert.ok(last, "the app got the request");
  const token = String(last.headers["jumpgate-jwt-assertion"] ?? "");
  const { payload } = await jwtVerify(token, await jwks(), {
    issuer: CLUSTER,
    audience: `http://127.0.0.1:${(app.address() as net.AddressInfo).port}`,
    algorithms: ["ES256"],
  });
  assert.equal(payload.username, "alice");
  assert.equal(payload.sub, "alice");
  assert.deepEqual(payload.roles, ["dev-apps"]);
  assert.equal(last.headers["x-logins"], "alice", "rewrite.headers expand trait templates");
  assert.ok(!String(last.headers.cookie ?? "").includes("jumpgate"), "the app never sees Jumpgate's cookies");

  const echoed = await tab.evaluate(
    (url) =>
      new Promise<string>((resolve, reject) => {
        const ws = new WebSocket(url);
        ws.onopen = () => ws.send("ping-42");
        ws.onmessage = (m) => resolve(String(m.data));
        ws.onerror = () => reject(new Error("websocket failed"));
      }),
    `wss://${appHost("dash")}/ws`,
  );
  assert.equal(echoed, "echo: ping-42");

  const uploaded = await tab.evaluate(async () => (await fetch("/upload", { method: "POST", body: new Uint8Array(8 * 1024 * 1024) })).text());
  assert.equal(uploaded, `received ${8 * 1024 * 1024} bytes`);
  ui.assertNoConsoleErrors();

  await auditedEvent(d, ["app.session.start"], (e) => e.user === "alice" && e.app_name === "dash" && e.success !== false, "app.session.start for alice");
  await auditedEvent(
    d,
    ["app.session.request"],
    (e) => e.user === "alice" && e.path === "/upload" && e.method === "POST" && Number(e.status) === 200,
    "the upload request event",
  );
});

test("a user whose roles do not allow the app gets a 403 page with the reason, and the refusal is audited", async () => {
  const ui = await signedInUi(bob);
  const { page } = ui;
  assert.equal(await page.locator('tr[data-resource="dash"]').count(), 0, "bob does not see the app");
  ui.allow(/status of 403/);
  const res = await page.goto("/web/launch/dash");
  assert.equal(res?.status(), 403);
  assert.match(await page.locator("#reason").innerText(), /access to app dash denied/);
  const e = await auditedEvent(d, ["app.session.start"], (x) => x.user === "bob" && x.success === false, "bob's refusal");
  assert.match(String(e.error), /access to app dash denied/);
});

test("forged, cross-app and ended app-session cookies, and client-sent JWTs, are refused", async () => {
  const before = seen.length;
  const forged = await appRequest(appHost("dash"), "/secret", { cookie: "__Host-jumpgate_app_session=forged" });
  assert.equal(forged.status, 302, forged.body);
  assert.match(String(forged.headers.location), new RegExp(`^https://localhost:${port}/web/launch/dash`));
  const none = await appRequest(appHost("dash"), "/secret");
  assert.equal(none.status, 302);
  assert.equal(seen.length, before, "nothing reached the app");

  // A real cookie for dash, taken from the browser, used on dash2's host.
  const ui = pages[0] as UiPage;
  const cookies = await ui.context.cookies(`https://${appHost("dash")}/`);
  const cookie = cookies.find((c) => c.name === "__Host-jumpgate_app_session");
  assert.ok(cookie, "the browser holds a host-only app-session cookie");
  assert.equal(cookie.httpOnly, true);
  assert.equal(cookie.secure, true);
  const header = `__Host-jumpgate_app_session=${cookie.value}`;
  const cross = await appRequest(appHost("dash2"), "/", { cookie: header });
  assert.equal(cross.status, 403);
  assert.match(cross.body, /this app session is for app dash/);
  assert.equal(seen.length, before, "nothing reached the app");

  // The client's own JWT is replaced by the Application Service's.
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const fake = await new SignJWT({ username: "admin" }).setProtectedHeader({ alg: "ES256" }).setIssuer(CLUSTER).setExpirationTime("1h").sign(privateKey);
  const ok = await appRequest(appHost("dash"), "/who", { cookie: header, "jumpgate-jwt-assertion": fake });
  assert.equal(ok.status, 200, ok.body);
  const got = String(seen.at(-1)?.headers["jumpgate-jwt-assertion"]);
  assert.notEqual(got, fake);
  const keys = await jwks();
  const aud = `http://127.0.0.1:${(app.address() as net.AddressInfo).port}`;
  await assert.rejects(jwtVerify(fake, keys, { issuer: CLUSTER, audience: aud }), "a token the cluster did not sign fails");
  await assert.rejects(
    jwtVerify(got, keys, { issuer: CLUSTER, audience: aud, currentDate: new Date(Date.now() + 10 * 60_000) }),
    /exp/,
    "an expired token fails",
  );

  // Redirects to the app's own address come back to its public address.
  const redirected = await appRequest(appHost("dash"), "/redirect", { cookie: header });
  assert.equal(redirected.status, 302);
  assert.equal(redirected.headers.location, `https://${appHost("dash")}/landing`);

  // Signing out of the app ends the cookie for good.
  await appRequest(appHost("dash"), "/x-jumpgate-app-logout", { cookie: header });
  const reached = seen.length;
  const ended = await appRequest(appHost("dash"), "/", { cookie: header });
  assert.equal(ended.status, 302);
  assert.equal(seen.length, reached, "nothing reached the app");
});

test("curl reaches the HTTP app through jsh proxy app, and a TCP client the TCP app", async () => {
  const login = await alice.jsh(["apps", "login", "dash"]);
  assert.equal(login.code, 0, login.stderr);
  const pa = await jshProxyApp(alice, "dash");
  const curl = await run("curl", ["-sS", `http://127.0.0.1:${pa.port}/via-curl`]);
  assert.equal(curl.code, 0, curl.stderr);
  assert.match(curl.stdout, /hello from the app at \/via-curl/);
  const token = String(seen.at(-1)?.headers["jumpgate-jwt-assertion"]);
  const { payload } = await jwtVerify(token, await jwks(), { issuer: CLUSTER, audience: `http://127.0.0.1:${(app.address() as net.AddressInfo).port}` });
  assert.equal(payload.username, "alice");

  const tl = await alice.jsh(["apps", "login", "echo"]);
  assert.equal(tl.code, 0, tl.stderr);
  const pt = await jshProxyApp(alice, "echo");
  const reply = await new Promise<string>((resolve, reject) => {
    const s = net.connect(pt.port, "127.0.0.1", () => s.write("tcp-ping\n"));
    let got = "";
    s.on("data", (b: Buffer) => {
      got += b.toString();
      if (got.includes("\n")) {
        s.end();
        resolve(got);
      }
    });
    s.on("error", reject);
    setTimeout(() => reject(new Error(`no echo: ${pt.output()}`)), 15_000).unref();
  });
  assert.equal(reply, "tcp-ping\n");
  const end = await auditedEvent(d, ["app.session.end"], (e) => e.user === "alice" && e.app_name === "echo", "the TCP app session's end");
  assert.ok(end.sid);
});

test("WebSocket clients outside the browser use the cookie too (a Node client through the proxy)", async () => {
  const ui = pages[0] as UiPage;
  const tab = ui.context.pages().find((p) => p.url().includes(appHost("dash")));
  assert.ok(tab, "the app's tab is open");
  await tab.reload();
  const cookie = (await ui.context.cookies(`https://${appHost("dash")}/`)).find((c) => c.name === "__Host-jumpgate_app_session");
  assert.ok(cookie);
  const options = { rejectUnauthorized: false, servername: "dash.localhost", headers: { host: appHost("dash"), cookie: `${cookie.name}=${cookie.value}` } };
  const ws = new WebSocket(`wss://127.0.0.1:${port}/ws`, options as WebSocket.ClientOptions);
  const msg = await new Promise<string>((resolve, reject) => {
    ws.on("open", () => ws.send("node-client"));
    ws.on("message", (m) => resolve(m.toString()));
    ws.on("error", reject);
  });
  ws.close();
  assert.equal(msg, "echo: node-client");
});
