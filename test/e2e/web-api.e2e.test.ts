import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import https from "node:https";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { WebSocket } from "ws";
import { storedFromProto } from "../../src/api/convert.ts";
import { totpCode } from "../../src/lib/auth/index.ts";
import { type AdminConnection, connectAdmin } from "../../src/lib/client/index.ts";
import { cleanup, type Daemon, freePort, run, startDaemon, tempDir } from "../harness/cluster.ts";
import { eventually, TEST_PASSWORD } from "../harness/users.ts";
import { webJson } from "../harness/web.ts";

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown>;
}

/** One browser-like request: cookie, CSRF header and Origin as given. */
function call(proxy: string, method: string, path: string, o: { cookie?: string; csrf?: string; origin?: string; body?: unknown } = {}): Promise<Reply> {
  const data = o.body === undefined ? undefined : Buffer.from(JSON.stringify(o.body));
  const headers: Record<string, string | number> = {};
  if (data) Object.assign(headers, { "content-type": "application/json", "content-length": data.length });
  if (o.cookie) headers.cookie = `__Host-jumpgate_session=${o.cookie}`;
  if (o.csrf) headers["x-csrf-token"] = o.csrf;
  if (o.origin) headers.origin = o.origin;
  return new Promise((resolve, reject) => {
    const req = https.request(`https://${proxy}${path}`, { method, headers, rejectUnauthorized: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let body: Record<string, unknown> = {};
        try {
          body = text ? JSON.parse(text) : {};
        } catch {
          body = { text };
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
      });
    });
    req.on("error", reject);
    req.end(data);
  });
}

const errorOf = (r: Reply) => r.body.error as { kind: string; message: string } | undefined;

/** Creates a user with jctl and completes the invite; returns the TOTP secret. */
async function invitedUser(d: Daemon, name: string, roles: string, logins: string): Promise<string> {
  const add = await run("jctl", ["--data-dir", d.dataDir, "users", "add", name, `--roles=${roles}`, `--logins=${logins}`]);
  assert.equal(add.code, 0, add.stderr);
  const token = /\/web\/invite\/([0-9a-f]+)/.exec(add.stdout)?.[1] ?? "";
  const inv = await webJson(d.proxyAddr, "GET", `/webapi/invites/${token}`);
  const secret = String(inv.body.totp_secret ?? "");
  const code = secret ? totpCode(secret, new Date()) : "";
  const done = await webJson(d.proxyAddr, "POST", `/webapi/invites/${token}`, { password: TEST_PASSWORD, totp_code: code });
  assert.equal(done.status, 200, done.text);
  return secret;
}

let d: Daemon;
let admin: AdminConnection;
let secret = "";
let cookie = "";
let csrf = "";
let origin = "";

before(async () => {
  d = await startDaemon();
  origin = `https://${d.proxyAddr}`;
  admin = await connectAdmin({ dataDir: d.dataDir });
  secret = await invitedUser(d, "webby", "access", "root");
});
after(async () => {
  admin?.client.close();
  await d?.stop();
  cleanup(d?.dataDir ?? "");
});

test("wrong password and wrong TOTP are refused with the jsh login message; the right ones give a cookie", async () => {
  const wrongPw = await call(d.proxyAddr, "POST", "/webapi/sessions", { origin, body: { user: "webby", password: "nope", otp: "123456" } });
  assert.equal(wrongPw.status, 403);
  assert.equal(errorOf(wrongPw)?.message, "invalid username, password or second factor");
  const wrongOtp = await call(d.proxyAddr, "POST", "/webapi/sessions", { origin, body: { user: "webby", password: TEST_PASSWORD, otp: "000000" } });
  assert.equal(wrongOtp.status, 403);
  assert.equal(errorOf(wrongOtp)?.message, "invalid username, password or second factor");
  const foreign = await call(d.proxyAddr, "POST", "/webapi/sessions", {
    origin: "https://evil.example",
    body: { user: "webby", password: TEST_PASSWORD, otp: "000000" },
  });
  assert.equal(foreign.status, 403);
  assert.match(errorOf(foreign)?.message ?? "", /another site/);

  // The invite used the current TOTP step; the next one is fresh.
  const otp = totpCode(secret, new Date(Date.now() + 30_000));
  const ok = await call(d.proxyAddr, "POST", "/webapi/sessions", { origin, body: { user: "webby", password: TEST_PASSWORD, otp } });
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  const setCookie = String(ok.headers["set-cookie"] ?? "");
  const m = /^__Host-jumpgate_session=([^;]+); Path=\/; HttpOnly; Secure; SameSite=Strict$/.exec(setCookie);
  assert.ok(m, setCookie);
  cookie = m[1] ?? "";
  csrf = String(ok.body.csrf_token);
  assert.equal(ok.body.user, "webby");
  assert.deepEqual(ok.body.roles, ["access"]);
  assert.equal(ok.body.idle_timeout_seconds, 1800);
});

test("GET /webapi/sessions/current describes the session; DELETE needs the CSRF token", async () => {
  const cur = await call(d.proxyAddr, "GET", "/webapi/sessions/current", { cookie });
  assert.equal(cur.status, 200, JSON.stringify(cur.body));
  assert.equal(cur.body.user, "webby");
  assert.equal(cur.body.csrf_token, csrf);
  assert.equal(cur.body.cluster_name, "test.local");
  assert.deepEqual(Object.keys(cur.body.acl as object).sort(), ["audit", "recordings", "roles", "sessions", "tokens", "users"]);
  const none = await call(d.proxyAddr, "GET", "/webapi/sessions/current");
  assert.equal(none.status, 401);
  assert.equal(errorOf(none)?.kind, "unauthenticated");
  const noCsrf = await call(d.proxyAddr, "DELETE", "/webapi/sessions/current", { cookie });
  assert.equal(noCsrf.status, 403);
  assert.equal(errorOf(noCsrf)?.message, "missing or invalid CSRF token");
  const badCsrf = await call(d.proxyAddr, "DELETE", "/webapi/sessions/current", { cookie, csrf: `${csrf}x` });
  assert.equal(badCsrf.status, 403);
  assert.equal((await call(d.proxyAddr, "GET", "/webapi/sessions/current", { cookie })).status, 200, "still signed in");
});

function openSocket(path: string, o: { origin: string; cookie: string }): WebSocket {
  return new WebSocket(`wss://${d.proxyAddr}${path}`, {
    rejectUnauthorized: false,
    headers: { origin: o.origin, cookie: `__Host-jumpgate_session=${o.cookie}` },
  });
}

test("a WebSocket from another origin is refused with 403", async () => {
  const ws = openSocket("/webapi/terminal?node=x&login=root", { origin: "https://evil.example", cookie });
  const status = await new Promise<number>((resolve, reject) => {
    ws.once("unexpected-response", (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
    });
    ws.once("open", () => reject(new Error("the socket opened")));
    ws.once("error", () => undefined);
  });
  assert.equal(status, 403);
});

test("the web terminal runs a shell like jsh ssh: output, resize, exit, recording", async () => {
  const nodes = (await admin.client.listResources({ kind: "node" })).resources.map((r) => storedFromProto(r));
  const node = String((nodes[0]?.spec as { hostname?: string } | undefined)?.hostname ?? "");
  assert.ok(node, "the daemon runs a node");
  const ws = openSocket(`/webapi/terminal?node=${encodeURIComponent(node)}&login=root&cols=80&rows=24`, { origin, cookie });
  let out = "";
  const control: Record<string, unknown>[] = [];
  ws.on("message", (data: Buffer, isBinary: boolean) => {
    if (isBinary) out += data.toString("utf8");
    else control.push(JSON.parse(data.toString("utf8")));
  });
  const closed = new Promise<number>((r) => ws.once("close", (code) => r(code)));
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  await eventually(async () => control.some((m) => m.type === "session" || m.type === "error"), 15_000, "the session message");
  const session = control.find((m) => m.type === "session");
  assert.ok(session, JSON.stringify(control));
  assert.equal(session.login, "root");
  const sid = String(session.session_id);
  assert.match(sid, /^[0-9a-f-]{36}$/);

  ws.send(Buffer.from("echo web-$((6*7))\r"), { binary: true });
  await eventually(async () => out.includes("web-42"), 10_000, "web-42 in the terminal");
  ws.send(JSON.stringify({ type: "resize", cols: 123, rows: 45 }));
  await new Promise((r) => setTimeout(r, 200));
  ws.send(Buffer.from("stty size\r"), { binary: true });
  await eventually(async () => out.includes("45 123"), 10_000, "the new size from stty");
  ws.send(Buffer.from("exit\r"), { binary: true });
  assert.equal(await closed, 1000);
  assert.deepEqual(control.at(-1), { type: "exit", code: 0 });

  await eventually(
    async () => (await admin.client.listRecordings({})).recordings.some((r) => r.sessionId === sid && r.complete),
    15_000,
    "the recording of the web session",
  );
});

/** A socket with its output and control messages collected. */
async function terminal(path: string) {
  const ws = openSocket(path, { origin, cookie });
  const t = { ws, out: "", control: [] as Record<string, unknown>[], closed: new Promise<number>((r) => ws.once("close", (c) => r(c))) };
  ws.on("message", (data: Buffer, isBinary: boolean) => {
    if (isBinary) t.out += data.toString("utf8");
    else t.control.push(JSON.parse(data.toString("utf8")));
  });
  await eventually(async () => t.control.some((m) => m.type === "session" || m.type === "error"), 15_000, "the session message");
  return t;
}

test("an observer joins a running web terminal session over the join socket", async () => {
  const nodes = (await admin.client.listResources({ kind: "node" })).resources.map((r) => storedFromProto(r));
  const node = String((nodes[0]?.spec as { hostname?: string } | undefined)?.hostname ?? "");
  const owner = await terminal(`/webapi/terminal?node=${encodeURIComponent(node)}&login=root`);
  const sid = String(owner.control.find((m) => m.type === "session")?.session_id ?? "");
  assert.ok(sid, JSON.stringify(owner.control));
  const watcher = await terminal(`/webapi/sessions/active/${sid}/join?mode=observer`);
  assert.deepEqual(watcher.control[0], { type: "session", session_id: sid, node, login: "root" });
  owner.ws.send(Buffer.from("echo joined-$((1+1))\r"), { binary: true });
  await eventually(async () => watcher.out.includes("joined-2"), 10_000, "the owner's output at the observer");
  owner.ws.send(Buffer.from("exit\r"), { binary: true });
  assert.equal(await owner.closed, 1000);
  assert.equal(await watcher.closed, 1000);
  assert.equal(watcher.control.at(-1)?.type, "exit");
});

test("a refused node is one error message, as jsh prints it", async () => {
  const ws = openSocket("/webapi/terminal?node=no-such-node&login=root", { origin, cookie });
  const messages: Record<string, unknown>[] = [];
  ws.on("message", (data: Buffer, isBinary: boolean) => {
    if (!isBinary) messages.push(JSON.parse(data.toString("utf8")));
  });
  const code = await new Promise<number>((r) => ws.once("close", (c) => r(c)));
  assert.equal(code, 1011);
  assert.deepEqual(messages, [{ type: "error", message: 'node "no-such-node" not found' }]);
});

test("sign-out ends the session: the cookie is cleared and no longer works", async () => {
  const out = await call(d.proxyAddr, "DELETE", "/webapi/sessions/current", { cookie, csrf });
  assert.equal(out.status, 204);
  assert.match(String(out.headers["set-cookie"] ?? ""), /Max-Age=0/);
  const after = await call(d.proxyAddr, "GET", "/webapi/sessions/current", { cookie });
  assert.equal(after.status, 401);
  const ev = await run("jctl", ["--data-dir", d.dataDir, "audit", "events", "--type=user.logout", "--format=json"]);
  assert.ok(
    (JSON.parse(ev.stdout) as { user?: string }[]).some((e) => e.user === "webby"),
    ev.stdout,
  );
});

test("an idle session expires (proxy_service.web_idle_timeout) and answers 401", async () => {
  const dir = tempDir("web-idle");
  const [proxy, auth] = [await freePort(), await freePort()];
  const config = join(dir, "jumpgate.yaml");
  writeFileSync(
    config,
    `version: v3
jumpgate:
  nodename: idle-host
  data_dir: ${join(dir, "data")}
auth_service:
  cluster_name: idle.local
  listen_addr: 127.0.0.1:${auth}
  authentication: {second_factor: off}
proxy_service:
  listen_addr: 127.0.0.1:${proxy}
  public_addr: 127.0.0.1:${proxy}
  web_idle_timeout: 2s
ssh_service: {enabled: no}
`,
  );
  const idle = await startDaemon({ config, dataDir: join(dir, "data"), proxyPort: proxy, authPort: auth });
  try {
    await invitedUser(idle, "sleepy", "access", "root");
    const ok = await call(idle.proxyAddr, "POST", "/webapi/sessions", { body: { user: "sleepy", password: TEST_PASSWORD } });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(ok.body.idle_timeout_seconds, 2);
    const c = /__Host-jumpgate_session=([^;]+)/.exec(String(ok.headers["set-cookie"]))?.[1] ?? "";
    assert.equal((await call(idle.proxyAddr, "GET", "/webapi/sessions/current", { cookie: c })).status, 200);
    await new Promise((r) => setTimeout(r, 2_500));
    const gone = await call(idle.proxyAddr, "GET", "/webapi/sessions/current", { cookie: c });
    assert.equal(gone.status, 401);
    assert.equal(errorOf(gone)?.message, "your session has expired, sign in again");
  } finally {
    await idle.stop();
    cleanup(dir);
  }
});
