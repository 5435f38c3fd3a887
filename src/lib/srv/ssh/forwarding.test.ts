import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import http from "node:http";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { ensureUser, FULL_POLICY, freePort, type Kit, run, start, startKit, waitFor } from "./ssh.test-helpers.ts";

let kit: Kit;
let web: http.Server;
let webPort: number;
const children: ChildProcess[] = [];
const ssh = (id: string[], login: string, ...rest: string[]) => [...kit.sshOpts(), ...id, "-p", String(kit.port), ...rest, `${login}@127.0.0.1`];

function get(port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    http
      .get({ host: "127.0.0.1", port, path: "/", timeout: 2000 }, (res) => {
        let body = "";
        res.on("data", (d: Buffer) => (body += d.toString()));
        res.on("end", () => resolve(body));
      })
      .on("error", () => resolve(undefined));
  });
}

before(async () => {
  ensureUser("jgtest");
  kit = await startKit();
  web = http.createServer((_req, res) => res.end("hello through the tunnel"));
  await new Promise<void>((r) => web.listen(0, "127.0.0.1", () => r()));
  const a = web.address();
  webPort = typeof a === "object" && a ? a.port : 0;
  kit.authorizer.policies.set("nofwd", { ...FULL_POLICY, permitPortForwarding: false, permitAgentForwarding: false });
  kit.authorizer.policies.set("idle", { ...FULL_POLICY, clientIdleTimeoutMs: 700 });
  kit.authorizer.policies.set("expiring", { ...FULL_POLICY, disconnectAt: new Date(Date.now() + 60_000) });
});
after(async () => {
  for (const c of children) c.kill("SIGKILL");
  web.close();
  await kit.close();
});

test("ssh -L reaches a local HTTP server through the node", async () => {
  const lport = await freePort();
  const s = start("ssh", [...ssh(kit.identity("alice", ["root"]), "root", "-N", "-o", "ExitOnForwardFailure=yes", "-L", `${lport}:127.0.0.1:${webPort}`)]);
  children.push(s.proc);
  const body = await waitFor(() => get(lport), 10_000, `ssh -L (${s.stderr()})`);
  assert.equal(body, "hello through the tunnel");
  s.proc.kill();
  const ev = kit.events.find((e) => e.event === "port" && e.kind === "local");
  assert.equal(ev?.success, true);
  assert.equal(ev?.addr, `127.0.0.1:${webPort}`);
  assert.equal(ev?.user, "alice");
});

test("ssh -R listens on the node's loopback and forwards back to the client", async () => {
  const rport = await freePort();
  const s = start("ssh", [...ssh(kit.identity("alice", ["root"]), "root", "-N", "-o", "ExitOnForwardFailure=yes", "-R", `${rport}:127.0.0.1:${webPort}`)]);
  children.push(s.proc);
  const body = await waitFor(() => get(rport), 10_000, `ssh -R (${s.stderr()})`);
  assert.equal(body, "hello through the tunnel");
  s.proc.kill();
  const ev = kit.events.find((e) => e.event === "port" && e.kind === "remote");
  assert.equal(ev?.success, true);
  assert.equal(ev?.addr, `127.0.0.1:${rport}`);
});

test("forwarding is refused when the policy forbids it, and the refusals are audited", async () => {
  const id = kit.identity("nofwd", ["root"]);
  const w = await run("ssh", [...ssh(id, "root", "-W", `127.0.0.1:${webPort}`)]);
  assert.equal(w.status, 255);
  assert.match(w.stderr, /open failed/);
  const rport = await freePort();
  const r = await run("ssh", [...ssh(id, "root", "-o", "ExitOnForwardFailure=yes", "-R", `${rport}:127.0.0.1:${webPort}`), "true"]);
  assert.equal(r.status, 255);
  assert.match(r.stderr, /remote port forwarding failed/);
  const denied = kit.events.filter((e) => e.event === "port" && e.user === "nofwd" && e.success === false);
  assert.deepEqual(denied.map((e) => e.kind).sort(), ["local", "remote"]);
  assert.ok(denied.every((e) => e.error === "port forwarding is not allowed by your roles"));
});

async function startAgent(): Promise<string> {
  const sock = join(kit.dir, "agent.sock");
  const agent = spawn("ssh-agent", ["-D", "-a", sock], { stdio: "ignore" });
  children.push(agent);
  await waitFor(() => (spawnSync("ssh-add", ["-l"], { env: { ...process.env, SSH_AUTH_SOCK: sock } }).status !== 2 ? true : undefined), 5000, "ssh-agent");
  const key = kit.plainKey("agentkey")[1] ?? "";
  const add = spawnSync("ssh-add", [key], { env: { ...process.env, SSH_AUTH_SOCK: sock }, encoding: "utf8" });
  assert.equal(add.status, 0, add.stderr);
  return sock;
}

test("agent forwarding: the session's SSH_AUTH_SOCK reaches the client's agent, in a 0700 dir owned by the login", async () => {
  const sock = await startAgent();
  const r = await run(
    "ssh",
    // IdentityAgent=none (in sshOpts) would also turn forwarding off; the first value given wins.
    [
      "-o",
      `IdentityAgent=${sock}`,
      ...ssh(kit.identity("bob", ["jgtest"]), "jgtest", "-A"),
      'ssh-add -l | wc -l; stat -c "%U %a" "$(dirname "$SSH_AUTH_SOCK")"',
    ],
  );
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, "1\njgtest 700\n");

  const denied = await run("ssh", ["-o", `IdentityAgent=${sock}`, ...ssh(kit.identity("nofwd", ["root"]), "root", "-A"), 'echo "[$SSH_AUTH_SOCK]"']);
  assert.equal(denied.stdout, "[]\n");
  assert.ok(kit.events.some((e) => e.event === "port" && e.kind === "agent" && e.user === "nofwd" && e.success === false));
});

test("idle timeout: a connection with no data either way is closed with a message", async () => {
  const t0 = Date.now();
  const r = await run("ssh", [...ssh(kit.identity("idle", ["root"]), "root"), "sleep 10"]);
  assert.equal(r.status, 255);
  assert.ok(Date.now() - t0 < 8000);
  assert.match(r.stderr, /jumpgate: client idle for more than 1s, disconnecting|jumpgate: client idle for more than/);
  assert.ok(kit.events.some((e) => e.event === "client.disconnect" && e.user === "idle"));
});

test("disconnect at certificate expiry closes the connection with a message", async () => {
  kit.authorizer.policies.set("expiring", { ...FULL_POLICY, disconnectAt: new Date(Date.now() + 1500) });
  const r = await run("ssh", [...ssh(kit.identity("expiring", ["root"]), "root"), "sleep 10"]);
  assert.equal(r.status, 255);
  assert.match(r.stderr, /jumpgate: your certificate expired at .*, disconnecting/);
});
