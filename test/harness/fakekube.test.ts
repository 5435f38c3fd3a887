/**
 * The fake Kubernetes API server against the real kubectl: listing, getting, exec
 * (plain, stdin, and a real tty under script(1)), credentials and impersonation.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import https from "node:https";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type RunResult, run, tempDir } from "./cluster.ts";
import { arithmetic, type FakeKube, FakeShell, startFakeKube, words } from "./fakekube.ts";

function findKubectl(): string | null {
  const r = spawnSync("sh", ["-c", "command -v kubectl"], { encoding: "utf8" });
  const found = r.status === 0 ? r.stdout.trim() : "";
  if (found) return found;
  return existsSync("/usr/bin/kubectl") ? "/usr/bin/kubectl" : null;
}

const KUBECTL = findKubectl();

/** The client's minor version; exec over WebSocket needs 30 or later (the gcloud dispatcher reports its own, newest, version). */
function kubectlMinor(): number {
  if (!KUBECTL) return 0;
  const r = spawnSync(KUBECTL, ["version", "--client", "-o", "json"], { encoding: "utf8", timeout: 20_000 });
  try {
    const v = JSON.parse(r.stdout) as { clientVersion?: { minor?: string } };
    return Number.parseInt(v.clientVersion?.minor ?? "0", 10);
  } catch {
    return 0;
  }
}

const MINOR = kubectlMinor();
const noKubectl = KUBECTL ? false : "kubectl is not installed (scripts/peers.mjs installs it)";
const noWsExec = noKubectl || (MINOR >= 30 ? false : `kubectl 1.${MINOR} execs over SPDY only, which the fake does not implement`);
const hasScript = existsSync("/usr/bin/script");

describe("fake Kubernetes API server with the real kubectl", { skip: noKubectl }, () => {
  let fake: FakeKube;
  let dir: string;
  let certConfig: string;
  let tokenConfig: string;

  before(async () => {
    fake = await startFakeKube({ tokens: { "s3cret-token": "svc-token" } });
    dir = tempDir("fakekube");
    certConfig = join(dir, "cert.kubeconfig");
    tokenConfig = join(dir, "token.kubeconfig");
    await fake.writeKubeconfig(certConfig, {
      contexts: [
        { name: "prod", clientCertCn: "svc-cert" },
        { name: "staging", clientCertCn: "svc-cert", namespace: "kube-system" },
      ],
    });
    await fake.writeKubeconfig(tokenConfig, {
      contexts: [
        { name: "tok", token: "s3cret-token" },
        { name: "bad", token: "wrong" },
      ],
    });
  });

  after(async () => {
    await fake?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** kubectl with a kubeconfig, a private HOME and discovery cache, impersonating alice unless told. */
  function kubectl(config: string, args: string[], opts: { input?: string; as?: string[] | null } = {}): Promise<RunResult> {
    const as = opts.as === null ? [] : (opts.as ?? ["--as", "alice"]);
    return run(KUBECTL ?? "kubectl", ["--kubeconfig", config, "--cache-dir", join(dir, "cache"), ...as, ...args], {
      env: { HOME: dir, KUBECONFIG: "" },
      ...(opts.input !== undefined ? { input: opts.input } : {}),
      timeoutMs: 20_000,
    });
  }

  test("get pods prints the table of the default namespace", async () => {
    const r = await kubectl(certConfig, ["get", "pods"]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split("\n");
    assert.match(lines[0] ?? "", /^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE$/);
    assert.match(r.stdout, /^web-1\s+1\/1\s+Running\s+0\s+\S+$/m);
    assert.match(r.stdout, /^web-2\s/m);
    assert.doesNotMatch(r.stdout, /coredns/);
    const list = fake.requests.find((q) => q.path === "/api/v1/namespaces/default/pods");
    assert.ok(list, "the list request was recorded");
    assert.match(list.accept, /as=Table;v=v1;g=meta\.k8s\.io/);
    assert.equal(list.credential, "svc-cert");
    assert.equal(list.authMethod, "cert");
    assert.equal(list.status, 200);
  });

  test("-o json and -o yaml give the plain PodList", async () => {
    const r = await kubectl(certConfig, ["get", "pods", "-o", "json"]);
    assert.equal(r.code, 0, r.stderr);
    const list = JSON.parse(r.stdout) as { items: Array<{ kind: string; metadata: { name: string } }> };
    assert.deepEqual(
      list.items.map((i) => i.metadata.name),
      ["web-1", "web-2"],
    );
    assert.equal(list.items[0]?.kind, "Pod");
    const y = await kubectl(certConfig, ["get", "pod", "web-2", "-o", "yaml"]);
    assert.equal(y.code, 0, y.stderr);
    assert.match(y.stdout, /^kind: Pod$/m);
    assert.match(y.stdout, /^ {2}name: web-2$/m);
  });

  test("-A lists every namespace; a context's namespace is used", async () => {
    const r = await kubectl(certConfig, ["get", "pods", "-A"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^NAMESPACE\s+NAME\s+READY/);
    assert.match(r.stdout, /^default\s+web-1\s/m);
    assert.match(r.stdout, /^kube-system\s+coredns-1\s/m);
    assert.ok(fake.requests.some((q) => q.path === "/api/v1/pods"));
    const s = await kubectl(certConfig, ["--context", "staging", "get", "pods"]);
    assert.equal(s.code, 0, s.stderr);
    assert.match(s.stdout, /^coredns-1\s/m);
    assert.doesNotMatch(s.stdout, /web-1/);
  });

  test("get pod NAME with a token; namespaces and deployments; not found", async () => {
    fake.reset();
    const r = await kubectl(tokenConfig, ["get", "pod", "web-1", "-n", "default"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^web-1\s+1\/1\s+Running/m);
    assert.doesNotMatch(r.stdout, /web-2/);
    const get = fake.requests.find((q) => q.path === "/api/v1/namespaces/default/pods/web-1");
    assert.equal(get?.credential, "svc-token");
    assert.equal(get?.authMethod, "token");
    const ns = await kubectl(tokenConfig, ["get", "namespaces"]);
    assert.equal(ns.code, 0, ns.stderr);
    assert.match(ns.stdout, /^default\s+Active/m);
    assert.match(ns.stdout, /^kube-system\s+Active/m);
    const deploy = await kubectl(tokenConfig, ["get", "deployments"]);
    assert.equal(deploy.code, 0, deploy.stderr);
    assert.match(deploy.stdout, /^web\s+2\/2\s+2\s+2\s/m);
    const missing = await kubectl(tokenConfig, ["get", "pod", "nope"]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /NotFound.*pods "nope" not found/);
  });

  test("impersonation headers are recorded; without them resources are forbidden", async () => {
    fake.reset();
    const r = await kubectl(certConfig, ["get", "pods"], { as: ["--as", "alice", "--as-group", "devs", "--as-group", "ops"] });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(fake.requests.length > 0);
    for (const q of fake.requests) {
      assert.equal(q.impersonateUser, "alice", q.path);
      assert.deepEqual(q.impersonateGroups, ["devs", "ops"], q.path);
    }
    fake.reset();
    const denied = await kubectl(certConfig, ["get", "pods"], { as: null });
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /Forbidden.*User "svc-cert" cannot list resource "pods"/);
    const list = fake.requests.find((q) => q.path === "/api/v1/namespaces/default/pods");
    assert.equal(list?.impersonateUser, null);
    assert.equal(list?.status, 403);
  });

  test("a wrong token is unauthorized", async () => {
    const r = await kubectl(tokenConfig, ["--context", "bad", "get", "pods"]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Unauthorized|must be logged in/);
  });

  test("exec POD -- echo hi", { skip: noWsExec }, async () => {
    fake.reset();
    const r = await kubectl(certConfig, ["exec", "web-1", "--", "echo", "hi"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "hi\n");
    const up = fake.requests.find((q) => q.path.endsWith("/exec"));
    assert.equal(up?.upgrade?.toLowerCase(), "websocket");
    assert.deepEqual(up?.query.command, ["echo", "hi"]);
    assert.equal(up?.impersonateUser, "alice");
    assert.equal(up?.status, 101);
    assert.deepEqual(fake.execs, [
      {
        namespace: "default",
        pod: "web-1",
        container: "web",
        command: ["echo", "hi"],
        tty: false,
        stdin: false,
        subprotocol: "v5.channel.k8s.io",
        size: null,
        exitCode: 0,
      },
    ]);
    const bad = await kubectl(certConfig, ["exec", "web-1", "--", "rm", "-rf", "/"]);
    assert.equal(bad.code, 127);
    assert.match(bad.stderr, /rm: not found/);
  });

  test("exec -i POD -- sh reads commands from stdin", { skip: noWsExec }, async () => {
    const r = await kubectl(certConfig, ["exec", "-i", "web-1", "--", "sh"], { input: "echo k8s-$((6*7))\nhostname\nexit 3\necho never\n" });
    assert.equal(r.stdout, "k8s-42\nweb-1\n");
    assert.equal(r.code, 3, r.stderr);
    const eof = await kubectl(tokenConfig, ["exec", "-i", "-n", "kube-system", "coredns-1", "--", "sh"], { input: "echo 'a  b' \"$((2+3*4))\"" });
    assert.equal(eof.code, 0, eof.stderr);
    assert.equal(eof.stdout, "a  b 14\n");
  });

  test("exec -it POD -- sh in a real terminal (script)", { skip: noWsExec || (hasScript ? false : "script(1) is not installed") }, async () => {
    fake.reset();
    const cmd = [KUBECTL ?? "kubectl", "--kubeconfig", certConfig, "--cache-dir", join(dir, "cache"), "--as", "alice", "exec", "-it", "web-1", "--", "sh"];
    const child = spawn("script", ["-qec", cmd.map((a) => `'${a}'`).join(" "), "/dev/null"], {
      env: { ...process.env, HOME: dir, KUBECONFIG: "", TERM: "xterm" },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let out = "";
    let step = 0;
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
      child.stdout.on("data", (d: Buffer) => {
        out += d.toString();
        // Type only once the remote shell prompts, as a person would.
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
    // The remote side echoes what was typed and answers with CRLF, as a terminal does.
    assert.match(out, /# echo k8s-\$\(\(6\*7\)\)\r\nk8s-42\r\n# exit\r\n/);
    assert.equal(fake.execs[0]?.tty, true);
    assert.equal(fake.execs[0]?.stdin, true);
    assert.equal(fake.execs[0]?.exitCode, 0);
  });
});

describe("fake Kubernetes API server without kubectl", () => {
  let fake: FakeKube;
  before(async () => {
    fake = await startFakeKube({ tokens: { t: "svc" }, pods: [{ namespace: "a", name: "one", containers: ["x", "y"] }] });
  });
  after(() => fake.close());

  function request(path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown> }> {
    return new Promise((resolve, reject) => {
      const req = https.request(`${fake.url}${path}`, { ca: fake.caPem, headers: { Authorization: "Bearer t", ...headers } }, (res) => {
        let text = "";
        res.on("data", (d: Buffer) => (text += d.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> }));
      });
      req.on("upgrade", (res, socket) => {
        socket.destroy();
        resolve({ status: res.statusCode ?? 0, body: {} });
      });
      req.on("error", reject);
      req.end();
    });
  }

  test("unknown paths are 404 Status objects; unauthenticated is 401", async () => {
    const r = await request("/apis/batch/v1/jobs", { "Impersonate-User": "a" });
    assert.equal(r.status, 404);
    assert.equal(r.body.kind, "Status");
    assert.equal(r.body.reason, "NotFound");
    const anon = await request("/api", { Authorization: "Bearer nope" });
    assert.equal(anon.status, 401);
    assert.equal(anon.body.reason, "Unauthorized");
  });

  test("an SPDY upgrade is refused with a Status that says why", async () => {
    const r = await request("/api/v1/namespaces/a/pods/one/exec?command=sh", { "Impersonate-User": "a", Connection: "Upgrade", Upgrade: "SPDY/3.1" });
    assert.equal(r.status, 400);
    assert.match(String(r.body.message), /SPDY is not implemented/);
    assert.equal(fake.requests.at(-1)?.upgrade, "SPDY/3.1");
  });

  test("a bad container is refused; configured pods are listed", async () => {
    const bad = await request("/api/v1/namespaces/a/pods/one/exec?command=sh&container=z", {
      "Impersonate-User": "a",
      Connection: "Upgrade",
      Upgrade: "websocket",
    });
    assert.equal(bad.status, 400);
    const list = await request("/api/v1/pods", { "Impersonate-User": "a", "Impersonate-Group": "g1" });
    assert.equal(list.status, 200);
    assert.deepEqual(
      (list.body.items as Array<{ metadata: { name: string } }>).map((p) => p.metadata.name),
      ["one"],
    );
  });

  test("the built-in shell evaluates only echo arithmetic and exit", () => {
    assert.equal(arithmetic("6*7"), 42);
    assert.equal(arithmetic("(1+2)*3 - 4/2"), 7);
    assert.equal(arithmetic("1/0"), null);
    assert.equal(arithmetic("a*2"), null);
    assert.deepEqual(words(`echo "x $((2*3))" '$((1+1))' $?`, 5), ["echo", "x 6", "$((1+1))", "5"]);
    const out: string[] = [];
    let code: number | null = null;
    const sh = new FakeShell(
      "p",
      false,
      (ch, d) => out.push(`${ch}:${d}`),
      (c) => (code = c),
    );
    sh.start(["sh"]);
    sh.input(Buffer.from("echo a; false; echo $?\nrm x\n"));
    sh.endOfInput();
    assert.deepEqual(out, ["1:a\n", "1:1\n", "2:sh: 1: rm: not found\n"]);
    assert.equal(code, 127);
  });
});
