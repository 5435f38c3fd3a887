/**
 * The Kubernetes Service part against a real Auth API, with a local HTTPS
 * server (its own CA, a bearer token for the service) standing in for the
 * API server, and streams made as the proxy makes them: the kube stream
 * header with a user certificate from Auth, then kubectl's HTTP.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http, { type IncomingMessage } from "node:http";
import https from "node:https";
import net, { type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { pino } from "pino";
import { WebSocket, WebSocketServer } from "ws";
import { systemClock } from "../../api/clock.ts";
import { encodeKubeHeader } from "../../api/kubewire.ts";
import { issueUserCerts, type UserResource, validateResource } from "../auth/index.ts";
import { startTestApi } from "../auth/testing/api.ts";
import { authFixture } from "../auth/testing/fixture.ts";
import {
  createCa,
  decodeIdentity,
  generateEcdsaP256,
  generateKeySet,
  issueClientCertificate,
  issueServerCertificate,
  SubjectPublicKey,
} from "../crypto/index.ts";
import { type KubePart, kubeClustersFromConfig, startKubePart } from "./kube-part.ts";

type Fixture = Awaited<ReturnType<typeof authFixture>>;
type Api = Awaited<ReturnType<typeof startTestApi>>;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function eventually<T>(what: string, f: () => Promise<T | undefined> | T | undefined, ms = 5_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > until) assert.fail(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

const SVC_TOKEN = "svc-token-7";
const CLIENT = "198.51.100.7:5000";

function kubeconfig(port: number, caPem: string, contexts: string[]): string {
  return [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    `- name: api`,
    `  cluster: {server: "https://127.0.0.1:${port}", certificate-authority-data: ${Buffer.from(caPem).toString("base64")}}`,
    "users:",
    `- name: svc`,
    `  user: {token: ${SVC_TOKEN}}`,
    "contexts:",
    ...contexts.map((c) => `- name: ${c}\n  context: {cluster: api, user: svc}`),
    "",
  ].join("\n");
}

/** What the API server saw. */
interface Seen {
  path: string;
  user: string | undefined;
  groups: string[];
  authorization: string | undefined;
}

describe("the Kubernetes Service part against a real Auth API", () => {
  let f: Fixture;
  let api: Api;
  let part: KubePart;
  let dataDir: string;
  let upstream: https.Server;
  let upstreamPort = 0;
  let listener: net.Server;
  let port = 0;
  const seen: Seen[] = [];
  let caPem = "";

  before(async () => {
    f = await authFixture({ secondFactor: "off" }, new Date());
    api = await startTestApi(f.server);
    await f.ctx.stores.roles.upsert(
      validateResource({
        kind: "role",
        version: "v7",
        metadata: { name: "kube-dev" },
        spec: {
          allow: {
            kubernetes_labels: { env: "dev" },
            kubernetes_groups: ["developers"],
            kubernetes_resources: [{ kind: "pod", namespace: "default", name: "*", verbs: ["*"] }],
          },
        },
      }),
    );
    for (const u of ["dana", "lucy", "walt"]) await f.addUser(u, ["kube-dev"], { logins: [u] });

    const ca = await createCa({ commonName: "test kube CA", organization: "test", clock: systemClock });
    caPem = ca.certPem;
    const k = generateEcdsaP256();
    const cert = await issueServerCertificate({
      caCert: ca.certPem,
      caKey: ca.privateKey,
      publicKey: SubjectPublicKey.fromPem(k.publicKey.export({ format: "pem", type: "spki" }).toString()),
      commonName: "kube-apiserver",
      dnsNames: [],
      ipAddresses: ["127.0.0.1"],
      ttlMs: 3600_000,
      clock: systemClock,
    });
    const record = (req: IncomingMessage) => {
      const s: Seen = {
        path: (req.url ?? "").split("?")[0] ?? "",
        user: req.headers["impersonate-user"] as string | undefined,
        groups: req.headersDistinct["impersonate-group"] ?? [],
        authorization: req.headers.authorization,
      };
      seen.push(s);
      return s;
    };
    upstream = https.createServer({ cert, key: k.privateKey.export({ format: "pem", type: "pkcs8" }).toString() }, (req, res) => {
      const s = record(req);
      if (s.authorization !== `Bearer ${SVC_TOKEN}`) {
        res.writeHead(401).end();
        return;
      }
      if (/[?&]watch=(true|1)/.test(req.url ?? "")) {
        // A watch: events would follow; the response stays open.
        res.writeHead(200, { "content-type": "application/json" });
        res.write(`${JSON.stringify({ type: "ADDED", object: { kind: "Pod", metadata: { name: "web" } } })}\n`);
        return;
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ kind: "PodList", apiVersion: "v1", items: [{ metadata: { name: "web" } }] }));
    });
    const wss = new WebSocketServer({ noServer: true, handleProtocols: (p) => (p.has("v5.channel.k8s.io") ? "v5.channel.k8s.io" : false) });
    upstream.on("upgrade", (req: IncomingMessage, socket, head) => {
      record(req);
      wss.handleUpgrade(req, socket, head, (ws) => {
        ws.send(Buffer.concat([Buffer.from([1]), Buffer.from("# ")]));
        ws.on("message", (data: Buffer) => {
          if (data[0] !== 0) return;
          ws.send(Buffer.concat([Buffer.from([1]), Buffer.from(`k8s-${data.subarray(1).toString().trim()}\r\n`)]));
          ws.send(Buffer.concat([Buffer.from([3]), Buffer.from(JSON.stringify({ metadata: {}, status: "Success" }))]));
          ws.close(1000);
        });
      });
    });
    upstream.listen(0, "127.0.0.1");
    await once(upstream, "listening");
    upstreamPort = (upstream.address() as AddressInfo).port;

    dataDir = mkdtempSync(join(tmpdir(), "jg-kube-part-"));
    const file = join(dataDir, "kubeconfig");
    writeFileSync(file, kubeconfig(upstreamPort, caPem, ["dev", "prod"]));
    part = await startKubePart({
      dataDir,
      nodeName: "kube-agent",
      kubeconfigFile: file,
      staticLabels: { env: "dev" },
      dynamicLabels: [{ name: "arch", command: ["echo", "x86"], periodMs: 60_000 }],
      log: pino({ level: "silent" }),
      // No proxy listens there: the tunnel keeps retrying, which these tests do not need.
      local: { server: f.server, authAddr: api.addr, proxyAddr: "127.0.0.1:9" },
      watchMs: 200,
    });
    listener = net.createServer((s) => void part.handleConnection(s, { clientAddr: CLIENT, target: "kube:dev" }));
    listener.listen(0, "127.0.0.1");
    await once(listener, "listening");
    port = (listener.address() as AddressInfo).port;
    await eventually("kube_server entries", async () => ((await f.ctx.stores.kubeServers.list()).length >= 2 ? true : undefined));
  });

  after(async () => {
    listener?.close();
    await part?.close();
    upstream?.closeAllConnections();
    upstream?.close();
    await api?.close();
    await f?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  /** A user certificate from Auth for `cluster` (as `jsh kube login` gets one). */
  async function certFor(user: string, cluster: string): Promise<string> {
    const client = await api.asUser(user);
    const k = generateKeySet();
    return (await client.generateUserCerts({ sshPublicKey: k.sshPublicKey, tlsPublicKey: k.tlsPublicKey, kubernetesCluster: cluster })).tlsCert;
  }

  /** One request on a stream as the proxy opens it: the header for cluster "dev" first. */
  function request(cert: string, path: string, onResponse?: (res: IncomingMessage) => void) {
    return new Promise<{ status: number; body: string }>((resolve, reject) => {
      const r = http.request(
        {
          path,
          createConnection: () => {
            const s = net.connect(port, "127.0.0.1");
            s.write(encodeKubeHeader({ cert, clientAddr: CLIENT, cluster: "dev" }));
            return s;
          },
        },
        async (m) => {
          onResponse?.(m);
          let body = "";
          try {
            for await (const c of m) body += String(c);
          } catch {
            // A stream cut in the middle: what came is the answer.
          }
          resolve({ status: m.statusCode ?? 0, body });
        },
      );
      r.on("error", reject);
      r.end();
    });
  }

  // Events carry the agent's (real) time; the fixture's clock stands still.
  const events = async (type: string) => (await f.audit.search({ from: new Date(0), to: new Date(Date.now() + 3600_000), types: [type] })).events;

  const failedRequest = (user: string, error: RegExp) =>
    eventually(`a refused kube.request for ${user}`, async () =>
      (await events("kube.request")).find((e) => e.user === user && e.success === false && error.test(String(e.error))),
    );

  test("heartbeats one kube_server per kubeconfig context, under its own host id, with the cluster's labels", async () => {
    const entries = await f.ctx.stores.kubeServers.list();
    assert.deepEqual(entries.map((e) => e.metadata.name).sort(), [`dev@${part.hostId}`, `prod@${part.hostId}`]);
    const dev = entries.find((e) => e.metadata.name.startsWith("dev@"));
    const spec = dev?.spec as {
      hostname: string;
      cluster: { kind: string; metadata: { name: string; labels: Record<string, string> }; spec: { dynamic_labels?: Record<string, { result?: string }> } };
    };
    assert.equal(spec.hostname, "kube-agent");
    assert.equal(spec.cluster.kind, "kube_cluster");
    assert.equal(spec.cluster.metadata.name, "dev");
    assert.deepEqual(spec.cluster.metadata.labels, { env: "dev" });
    assert.equal(spec.cluster.spec.dynamic_labels?.arch?.result, "x86");
    assert.deepEqual(part.clusters, ["dev", "prod"]);
  });

  test("an allowed request reaches the API server with the service's token and the user's impersonation", async () => {
    const cert = await certFor("dana", "dev");
    seen.length = 0;
    const res = await request(cert, "/api/v1/namespaces/default/pods");
    assert.equal(res.status, 200, res.body);
    assert.match(res.body, /PodList/);
    const s = seen.find((x) => x.path === "/api/v1/namespaces/default/pods");
    assert.ok(s);
    assert.equal(s.authorization, `Bearer ${SVC_TOKEN}`);
    assert.equal(s.user, "dana");
    assert.deepEqual([...s.groups].sort(), ["developers", "system:authenticated"]);
    const e = await eventually("kube.request in Auth", async () =>
      (await events("kube.request")).find((x) => x.user === "dana" && x.request_path === "/api/v1/namespaces/default/pods"),
    );
    assert.equal(e.kubernetes_cluster, "dev");
    assert.equal(Number(e.response_code), 200);
  });

  test("a certificate for another cluster is refused with a Kubernetes Status saying which, and audited", async () => {
    const cert = await certFor("dana", "prod");
    seen.length = 0;
    const res = await request(cert, "/api/v1/namespaces/default/pods");
    assert.equal(res.status, 403);
    const status = JSON.parse(res.body) as { kind: string; reason: string; message: string };
    assert.equal(status.kind, "Status");
    assert.equal(status.reason, "Forbidden");
    assert.equal(status.message, "this certificate is for Kubernetes cluster prod, not dev: run jsh kube login dev");
    assert.equal(seen.length, 0, "nothing reached the API server");
    await failedRequest("dana", /cluster prod, not dev/);
  });

  test("an expired certificate and one from another CA are refused", async () => {
    // Issued 13 hours ago by the real user CA: expired an hour ago.
    const real = f.clock.now();
    f.clock.set(new Date(real.getTime() - 13 * 3600_000));
    const k = generateKeySet();
    const user = (await f.ctx.stores.users.get("dana")) as UserResource;
    const old = await issueUserCerts(f.ctx, user, k, undefined, { kubernetesCluster: "dev" });
    f.clock.set(real);
    const expired = await request(old.tlsCert, "/api/v1/namespaces/default/pods");
    assert.equal(expired.status, 403);
    assert.match(JSON.parse(expired.body).message, /client certificate refused/);

    // The same identity signed by a CA nobody trusts.
    const foreignCa = await createCa({ commonName: "not the user CA", organization: "evil", clock: systemClock });
    const fk = generateEcdsaP256();
    const forged = await issueClientCertificate({
      caCert: foreignCa.certPem,
      caKey: foreignCa.privateKey,
      publicKey: fk.publicKey,
      identity: decodeIdentity(await certFor("dana", "dev")),
      ttlMs: 3600_000,
      clock: systemClock,
    });
    seen.length = 0;
    const foreign = await request(forged, "/api/v1/namespaces/default/pods");
    assert.equal(foreign.status, 403);
    assert.match(JSON.parse(foreign.body).message, /client certificate refused/);
    assert.equal(seen.length, 0);
  });

  test("a locked user is refused with the lock's message", async () => {
    const cert = await certFor("lucy", "dev");
    await f.ctx.stores.locks.upsert(
      validateResource({ kind: "lock", version: "v2", metadata: { name: "lock-lucy" }, spec: { target: { user: "lucy" }, message: "left the team" } }),
    );
    // Reads of locks are shared for a second.
    await sleep(1_100);
    const res = await request(cert, "/api/v1/namespaces/default/pods");
    assert.equal(res.status, 403);
    assert.match(JSON.parse(res.body).message, /user lucy is locked: left the team/);
    await failedRequest("lucy", /locked/);
  });

  test("a watch in progress is cut when a lock appears", async () => {
    const cert = await certFor("walt", "dev");
    let opened = false;
    const done = request(cert, "/api/v1/namespaces/default/pods?watch=true", () => {
      opened = true;
    });
    await eventually("the watch to start", () => (opened ? true : undefined));
    await f.ctx.stores.locks.upsert(validateResource({ kind: "lock", version: "v2", metadata: { name: "lock-walt" }, spec: { target: { user: "walt" } } }));
    const res = await Promise.race([done, sleep(5_000).then(() => undefined)]);
    assert.ok(res, "the watch was not closed");
    assert.match(res.body, /ADDED/);
    await failedRequest("walt", /closed in progress: user walt is locked/);
  });

  test("kubectl exec is forwarded and recorded, and the recording reaches Auth", async () => {
    const cert = await certFor("dana", "dev");
    const ws = new WebSocket("ws://kube.invalid/api/v1/namespaces/default/pods/web/exec?command=sh&stdin=true&stdout=true&tty=true", ["v5.channel.k8s.io"], {
      createConnection: () => {
        const s = net.connect(port, "127.0.0.1");
        s.write(encodeKubeHeader({ cert, clientAddr: CLIENT, cluster: "dev" }));
        return s;
      },
    });
    const got: string[] = [];
    ws.on("message", (d: Buffer) => got.push(`${d[0]}:${d.subarray(1).toString()}`));
    await once(ws, "open");
    ws.send(Buffer.concat([Buffer.from([0]), Buffer.from("42\n")]));
    await once(ws, "close");
    assert.ok(got.includes("1:k8s-42\r\n"), got.join(" | "));
    const start = await eventually("session.start in Auth", async () => (await events("session.start")).find((e) => e.kubernetes_pod_name === "web"));
    const sid = String(start.sid);
    const end = await eventually("session.end in Auth", async () => (await events("session.end")).find((e) => e.sid === sid));
    assert.equal(end.recording_id, sid);
    await eventually("the recording in Auth", () => {
      try {
        return f.ctx.recordings.info(sid).complete ? true : undefined;
      } catch {
        return undefined;
      }
    });
  });
});

describe("kubernetes_service.kube_cluster_name", () => {
  const dir = mkdtempSync(join(tmpdir(), "jg-kubeconfig-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const ca = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

  test("renames the only context of a kubeconfig", () => {
    const file = join(dir, "one");
    writeFileSync(file, kubeconfig(6443, ca, ["kind-kind"]));
    assert.deepEqual(
      kubeClustersFromConfig(file, "staging").map((c) => c.name),
      ["staging"],
    );
    assert.deepEqual(
      kubeClustersFromConfig(file).map((c) => c.name),
      ["kind-kind"],
    );
  });

  test("is refused with several contexts, naming them", () => {
    const file = join(dir, "two");
    writeFileSync(file, kubeconfig(6443, ca, ["dev", "prod"]));
    assert.throws(() => kubeClustersFromConfig(file, "staging"), /names the only context of a kubeconfig, but .* has 2 \(dev, prod\)/);
  });

  test("a missing kubeconfig_file is said plainly", () => {
    assert.throws(() => kubeClustersFromConfig(undefined), /kubernetes_service.kubeconfig_file is required/);
  });
});
