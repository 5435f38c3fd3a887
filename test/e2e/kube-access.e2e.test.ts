/**
 * Kubernetes access end to end, with the real kubectl against the fake API
 * server of the test tree (test/harness/fakekube.ts; no real cluster can be
 * installed here — see docs/kubernetes-access.md). An auth+proxy daemon, a
 * Kubernetes Service agent joined by token (its credential to the API server
 * is a bearer token in its kubeconfig), `jsh kube login` writing the user's
 * kubeconfig, and kubectl reaching the proxy's one port with SNI
 * `kube.localhost`: impersonation, refusals before the API server, exec with a
 * terminal, and its recording played with `jsh play`.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { type Agent, cleanup, type Daemon, run, startAgent, startDaemon, tempDir } from "../harness/cluster.ts";
import { auditedEvent } from "../harness/dbaccess.ts";
import { type FakeKube, startFakeKube } from "../harness/fakekube.ts";
import { eventually, type LoggedIn, userLoggedIn } from "../harness/users.ts";

let d: Daemon;
let agent: Agent;
let fake: FakeKube;
let alice: LoggedIn;
let bob: LoggedIn;
const work = tempDir("kube");
const CLUSTER = "test.local";
const hasScript = existsSync("/usr/bin/script");

/** kubectl's minor version: exec over WebSocket (what the fake API server speaks) needs 1.30 or later. */
function kubectlMinor(): number {
  const r = spawnSync("kubectl", ["version", "--client", "-o", "json"], { encoding: "utf8", timeout: 20_000 });
  try {
    return Number.parseInt((JSON.parse(r.stdout) as { clientVersion?: { minor?: string } }).clientVersion?.minor ?? "0", 10);
  } catch {
    return 0;
  }
}
const MINOR = kubectlMinor();
// Debian's kubernetes-client is kubectl 1.20, which execs over SPDY only (docs/kubernetes-access.md, Limits).
const noExec =
  MINOR >= 30 ? (hasScript ? false : "script(1) is not installed") : `kubectl 1.${MINOR} execs over SPDY only, which the fake API server does not speak`;

const kubeconfigOf = (u: LoggedIn) => join(u.home, "kubeconfig");
const envOf = (u: LoggedIn) => ({ ...u.env, KUBECONFIG: kubeconfigOf(u), HOME: u.home });
const jsh = (u: LoggedIn, args: string[]) => run("jsh", args, { env: envOf(u) });
const kubectl = (u: LoggedIn, args: string[]) => run("kubectl", ["--cache-dir", join(u.home, "kube-cache"), ...args], { env: envOf(u), timeoutMs: 30_000 });

before(async () => {
  fake = await startFakeKube({ tokens: { "svc-token": "jumpgate-kube-service" } });
  await fake.writeKubeconfig(join(work, "service-kubeconfig"), { contexts: [{ name: "dev", token: "svc-token" }] });
  d = await startDaemon({ publicHost: "localhost", extraArgs: ["--roles", "auth,proxy"] });
  const tok = JSON.parse((await run("jctl", ["--data-dir", d.dataDir, "tokens", "add", "--type=kube", "--format=json"])).stdout);
  writeFileSync(
    join(work, "agent.yaml"),
    [
      "version: v3",
      "jumpgate:",
      "  nodename: kube-agent",
      "kubernetes_service:",
      "  enabled: yes",
      `  kubeconfig_file: ${join(work, "service-kubeconfig")}`,
      "  static_labels: {env: dev}",
      "",
    ].join("\n"),
  );
  agent = await startAgent({ proxyAddr: d.proxyAddr, token: tok.token, config: join(work, "agent.yaml"), roles: "kube" });
  writeFileSync(
    join(work, "roles.yaml"),
    [
      "kind: role",
      "version: v7",
      "metadata: {name: kube-dev}",
      "spec:",
      "  allow:",
      "    logins: ['{{internal.logins}}']",
      "    kubernetes_labels: {env: dev}",
      "    kubernetes_groups: [developers]",
      "    kubernetes_resources:",
      "      - {kind: pod, namespace: default, name: '*', verbs: ['*']}",
      "    rules:",
      "      - {resources: [session], verbs: [list, read], where: 'contains(session.participants, user.metadata.name)'}",
      "---",
      "kind: role",
      "version: v7",
      "metadata: {name: no-kube}",
      "spec:",
      "  allow:",
      "    logins: ['{{internal.logins}}']",
      "",
    ].join("\n"),
  );
  const c = await run("jctl", ["--data-dir", d.dataDir, "create", "-f", join(work, "roles.yaml")]);
  assert.equal(c.code, 0, c.stderr);
  alice = await userLoggedIn(d, "alice", "kube-dev", "alice");
  bob = await userLoggedIn(d, "bob", "no-kube", "bob");
  await eventually(async () => (await jsh(alice, ["kube", "ls"])).stdout.includes("dev"), 20_000, "the cluster to be announced");
});

after(async () => {
  await agent?.stop();
  await d?.stop();
  await fake?.close();
  cleanup(d?.dataDir ?? "", work, agent?.dataDir ?? "", alice?.home ?? "", bob?.home ?? "");
});

test("jsh kube login writes a kubeconfig context for the proxy; a user whose roles do not allow the cluster is refused with the reason", async () => {
  const ls = await jsh(alice, ["kube", "ls", "--format=json"]);
  assert.equal(ls.code, 0, ls.stderr);
  assert.deepEqual(
    (JSON.parse(ls.stdout) as { name: string }[]).map((c) => c.name),
    ["dev"],
  );
  const login = await jsh(alice, ["kube", "login", "dev"]);
  assert.equal(login.code, 0, login.stderr);
  const ctx = await kubectl(alice, ["config", "current-context"]);
  assert.equal(ctx.stdout.trim(), `${CLUSTER}-dev`);
  const denied = await jsh(bob, ["kube", "login", "dev"]);
  assert.notEqual(denied.code, 0);
  assert.match(denied.stderr, /Kubernetes cluster dev/);
  assert.equal(denied.stderr.trim().split("\n").length, 1, denied.stderr);
});

test("kubectl get pods reaches the API server as alice, with the mapped groups", async () => {
  fake.reset();
  const r = await kubectl(alice, ["get", "pods"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /web-1/);
  assert.match(r.stdout, /web-2/);
  const list = fake.requests.find((q) => q.path === "/api/v1/namespaces/default/pods");
  assert.ok(list, JSON.stringify(fake.requests.map((q) => q.path)));
  assert.equal(list.credential, "jumpgate-kube-service", "the service's own credential");
  assert.equal(list.impersonateUser, "alice");
  assert.ok(list.impersonateGroups.includes("developers"), String(list.impersonateGroups));
  const json = await kubectl(alice, ["get", "pods", "-o", "json"]);
  assert.equal(json.code, 0, json.stderr);
  assert.deepEqual((JSON.parse(json.stdout) as { items: { metadata: { name: string } }[] }).items.map((p) => p.metadata.name).sort(), ["web-1", "web-2"]);
  const e = await auditedEvent(
    d,
    ["kube.request"],
    (x) => x.user === "alice" && x.request_path === "/api/v1/namespaces/default/pods" && Number(x.response_code) === 200,
    "kube.request for the pod list",
  );
  assert.equal(e.kubernetes_cluster, "dev");
});

test("a forbidden namespace or kind is refused before it reaches the API server, and audited", async () => {
  fake.reset();
  const ns = await kubectl(alice, ["get", "pods", "-n", "kube-system"]);
  assert.notEqual(ns.code, 0);
  assert.match(ns.stderr, /Forbidden/);
  const deploy = await kubectl(alice, ["get", "deployments"]);
  assert.notEqual(deploy.code, 0);
  assert.match(deploy.stderr, /Forbidden/);
  assert.equal(
    fake.requests.filter((q) => q.path.includes("kube-system") || q.path.includes("deployments")).length,
    0,
    JSON.stringify(fake.requests.map((q) => q.path)),
  );
  await auditedEvent(
    d,
    ["kube.request"],
    (x) => x.user === "alice" && String(x.request_path).includes("kube-system") && x.success === false,
    "the refused request",
  );
});

test("a certificate from another CA is refused at the proxy", async () => {
  const foreign = await fake.issueClientCert("alice");
  writeFileSync(join(work, "foreign.crt"), foreign.certPem);
  writeFileSync(join(work, "foreign.key"), foreign.keyPem);
  const r = await kubectl(alice, ["get", "pods", `--client-certificate=${join(work, "foreign.crt")}`, `--client-key=${join(work, "foreign.key")}`]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /Unauthorized|logged in/);
  assert.equal(fake.requests.filter((q) => q.path === "/api/v1/namespaces/default/pods" && q.status === 0).length, 0);
});

test("kubectl exec -it runs in a terminal, and the session plays back with jsh play", { skip: noExec }, async () => {
  const cmd = ["kubectl", "--cache-dir", join(alice.home, "kube-cache"), "exec", "-it", "web-1", "--", "sh"];
  const child = spawn("script", ["-qec", cmd.map((a) => `'${a}'`).join(" "), "/dev/null"], {
    env: { ...process.env, ...envOf(alice), TERM: "xterm" },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let out = "";
  let step = 0;
  const code = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.stdout.on("data", (b: Buffer) => {
      out += b.toString();
      if (step === 0 && out.includes("# ")) {
        step = 1;
        child.stdin.write("echo k8s-$((6*7))\r");
      } else if (step === 1 && out.includes("k8s-42\r\n")) {
        step = 2;
        child.stdin.write("exit\r");
      }
    });
    child.on("close", (c) => {
      clearTimeout(timer);
      resolve(c);
    });
  });
  assert.equal(code, 0, out);
  assert.match(out, /k8s-42/);
  const exec = fake.execs.at(-1);
  assert.equal(exec?.tty, true);
  const start = await auditedEvent(d, ["session.start"], (e) => e.user === "alice" && e.kubernetes_pod_name === "web-1", "the exec session's start");
  const sid = String(start.sid);
  const end = await auditedEvent(d, ["session.end"], (e) => e.sid === sid, "the exec session's end");
  assert.equal(end.recording_id ?? sid, sid, JSON.stringify(end));
  let played = "";
  await eventually(
    async () => {
      const p = await jsh(alice, ["play", sid, "--speed=50"]);
      played = `${p.stdout}\n${p.stderr}`;
      return p.code === 0 && p.stdout.includes("k8s-42");
    },
    20_000,
    "the recording to be playable",
  ).catch((e: unknown) => assert.fail(`${String(e)}: ${played}`));
});
