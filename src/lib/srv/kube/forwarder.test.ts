/**
 * KubeForwarder against a tiny local API server: HTTPS with its own CA that
 * requires the service's client certificate (or its bearer token) and echoes
 * what it was asked, and a WebSocket exec endpoint speaking v5.channel.k8s.io.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http, { type IncomingMessage } from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { TLSSocket } from "node:tls";
import { WebSocket, WebSocketServer } from "ws";
import { systemClock } from "../../../api/clock.ts";
import { parseResourceOf, type Role } from "../../../api/resources/index.ts";
import { createCa, generateEcdsaP256, issueServerCertificate, SubjectPublicKey } from "../../crypto/index.ts";
import { createSpoolRecorderFactory, play } from "../../events/index.ts";
import type { KubeUser } from "./access.ts";
import { type KubeAuditEvent, KubeForwarder, type KubeForwarderOptions } from "./forwarder.ts";
import type { KubeClusterConfig } from "./kubeconfig.ts";

const closers: Array<() => unknown> = [];
after(async () => {
  for (const c of closers.reverse()) await c();
});

const pem = (k: ReturnType<typeof generateEcdsaP256>) => ({
  key: k.privateKey.export({ format: "pem", type: "pkcs8" }).toString(),
  spki: SubjectPublicKey.fromPem(k.publicKey.export({ format: "pem", type: "spki" }).toString()),
});

async function issue(ca: Awaited<ReturnType<typeof createCa>>, cn: string) {
  const k = pem(generateEcdsaP256());
  const cert = await issueServerCertificate({
    caCert: ca.certPem,
    caKey: ca.privateKey,
    publicKey: k.spki,
    commonName: cn,
    dnsNames: ["kube.internal"],
    ipAddresses: ["127.0.0.1"],
    ttlMs: 3600_000,
    clock: systemClock,
  });
  return { cert, key: k.key };
}

/** What the fake API server saw, per request. */
interface Seen {
  method: string;
  url: string;
  user: string | undefined;
  groups: string[];
  authorization: string | undefined;
  clientCn: string | undefined;
  extensions: string | undefined;
}

const role = (name: string, spec: unknown): Role => parseResourceOf("role", { kind: "role", version: "v7", metadata: { name }, spec });
const users: Record<string, KubeUser> = {
  alice: {
    username: "alice",
    roles: [
      role("dev", {
        allow: {
          kubernetes_labels: { env: "dev" },
          kubernetes_groups: ["developers"],
          kubernetes_users: ["alice@corp", "admin"],
          kubernetes_resources: [{ kind: "pod", namespace: "dev", name: "*", verbs: ["*"] }],
        },
      }),
    ],
    traits: {},
  },
  bob: { username: "bob", roles: [role("viewer", { allow: { kubernetes_labels: { env: "dev" }, kubernetes_groups: ["viewers"] } })], traits: {} },
};

const SVC_TOKEN = "svc-token-1";

describe("KubeForwarder", () => {
  let apiPort = 0;
  const seen: Seen[] = [];
  let ca: Awaited<ReturnType<typeof createCa>>;
  let svc: { cert: string; key: string };
  const audit: KubeAuditEvent[] = [];
  const spool = mkdtempSync(join(tmpdir(), "kube-rec-"));
  const finished: string[] = [];
  closers.push(() => rmSync(spool, { recursive: true, force: true }));

  before(async () => {
    ca = await createCa({ commonName: "kube CA", organization: "test", clock: systemClock });
    const server = await issue(ca, "kube-apiserver");
    svc = await issue(ca, "jumpgate-kube-service");
    const record = (req: IncomingMessage): Seen => {
      const peer = (req.socket as TLSSocket).getPeerCertificate?.();
      const s: Seen = {
        method: req.method ?? "",
        url: req.url ?? "",
        user: req.headers["impersonate-user"] as string | undefined,
        groups: req.headersDistinct["impersonate-group"] ?? [],
        authorization: req.headers.authorization,
        clientCn: (req.socket as TLSSocket).authorized && peer?.subject ? String(peer.subject.CN) : undefined,
        extensions: req.headers["sec-websocket-extensions"] as string | undefined,
      };
      seen.push(s);
      return s;
    };
    const authenticated = (s: Seen) => s.clientCn === "jumpgate-kube-service" || s.authorization === `Bearer ${SVC_TOKEN}`;
    const api = https.createServer({ ...server, ca: ca.certPem, requestCert: true, rejectUnauthorized: false }, (req, res) => {
      const s = record(req);
      if (!authenticated(s)) {
        res.writeHead(401, { "content-type": "application/json" });
        res.end(JSON.stringify({ kind: "Status", apiVersion: "v1", status: "Failure", reason: "Unauthorized", code: 401 }));
        return;
      }
      req.resume();
      req.on("end", () => {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ kind: "PodList", apiVersion: "v1", items: [], seen: s }));
      });
    });
    const wss = new WebSocketServer({ noServer: true, handleProtocols: (p) => (p.has("v5.channel.k8s.io") ? "v5.channel.k8s.io" : false) });
    api.on("upgrade", (req: IncomingMessage, socket, head) => {
      const s = record(req);
      if (!authenticated(s)) {
        socket.end("HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\n\r\n");
        return;
      }
      if (String(req.headers.upgrade).toLowerCase() === "spdy/3.1") {
        // Not a channel protocol: an echo after a raw 101, like SPDY would be for this test.
        socket.write("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n\r\n");
        socket.pipe(socket);
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => {
        ws.send(Buffer.concat([Buffer.from([1]), Buffer.from("$ ")]));
        ws.on("message", (data: Buffer) => {
          if (data[0] === 0) {
            const line = data.subarray(1).toString();
            ws.send(Buffer.concat([Buffer.from([1]), Buffer.from(`you said: ${line}`)]));
            ws.send(Buffer.concat([Buffer.from([2]), Buffer.from("warning: on stderr\n")]));
            const status = { metadata: {}, status: "Failure", reason: "NonZeroExitCode", details: { causes: [{ reason: "ExitCode", message: "3" }] } };
            ws.send(Buffer.concat([Buffer.from([3]), Buffer.from(JSON.stringify(status))]));
            ws.close(1000);
          }
        });
      });
    });
    api.listen(0, "127.0.0.1");
    await once(api, "listening");
    apiPort = (api.address() as AddressInfo).port;
    closers.push(() => {
      api.closeAllConnections();
      api.close();
    });
  });

  const cluster = (over: Partial<KubeClusterConfig> = {}): KubeClusterConfig => ({
    name: "dev",
    server: `https://127.0.0.1:${apiPort}`,
    ca: ca.certPem,
    insecureSkipTlsVerify: false,
    credentials: { kind: "client-cert", cert: svc.cert, key: svc.key },
    ...over,
  });

  /** A front server standing in for the proxy: the user is named by a test header. */
  async function front(o: Partial<KubeForwarderOptions> = {}) {
    const fwd = new KubeForwarder({
      cluster: cluster(),
      labels: () => ({ env: "dev" }),
      hostId: "kube-host-1",
      nodeName: "kube-agent",
      audit: (e) => audit.push(e),
      recorders: createSpoolRecorderFactory({
        dir: spool,
        clock: systemClock,
        uploader: { opened: () => {}, written: () => {}, finished: (id) => finished.push(id) },
      }),
      clock: systemClock,
      ...o,
    });
    const ctxOf = (req: IncomingMessage) => {
      const u = users[String(req.headers["x-test-user"] ?? "alice")];
      assert.ok(u);
      return { user: u, clientAddr: "203.0.113.7" };
    };
    const server = http.createServer((req, res) => void fwd.handleRequest(req, res, ctxOf(req)));
    server.on("upgrade", (req: IncomingMessage, socket, head: Buffer) => void fwd.handleUpgrade(req, socket, head, ctxOf(req)));
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    closers.push(() => {
      server.closeAllConnections();
      server.close();
      fwd.close();
    });
    return { port: (server.address() as AddressInfo).port, fwd };
  }

  async function get(port: number, path: string, headers: Record<string, string | string[]> = {}, method = "GET") {
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const r = http.request({ host: "127.0.0.1", port, path, method, headers, agent: false }, resolve);
      r.on("error", reject);
      r.end();
    });
    let body = "";
    for await (const c of res) body += String(c);
    return { status: res.statusCode ?? 0, type: res.headers["content-type"], body: JSON.parse(body) as Record<string, unknown> };
  }

  test("forwards with the service's client certificate and the user's impersonation; the client's own is dropped", async () => {
    const { port } = await front();
    const r = await get(port, "/api/v1/namespaces/dev/pods", {
      "x-test-user": "alice",
      authorization: "Bearer users-own-token",
      "impersonate-user": "admin",
      "impersonate-group": "developers",
      "impersonate-extra-scopes": "everything",
    });
    assert.equal(r.status, 200);
    const s = r.body.seen as Seen;
    assert.equal(s.clientCn, "jumpgate-kube-service");
    assert.equal(s.authorization, undefined);
    assert.equal(s.user, "admin");
    assert.deepEqual(s.groups, ["developers", "system:authenticated"]);
    const e = audit.at(-1);
    assert.deepEqual(
      { ...e, time: undefined },
      {
        event: "kube.request",
        time: undefined,
        user: "alice",
        addr_remote: "203.0.113.7",
        request_path: "/api/v1/namespaces/dev/pods",
        verb: "list",
        resource: "pods",
        api_group: "",
        api_version: "v1",
        namespace: "dev",
        name: "",
        kubernetes_users: ["admin", "alice@corp"],
        kubernetes_groups: ["developers"],
        kubernetes_user: "admin",
        impersonated_groups: ["developers", "system:authenticated"],
        kubernetes_cluster: "dev",
        response_code: 200,
        success: true,
        server_id: "kube-host-1",
        server_hostname: "kube-agent",
      },
    );
  });

  test("refusals are Kubernetes Status objects kubectl prints, and audited", async () => {
    const { port } = await front();
    const several = await get(port, "/api/v1/namespaces/dev/pods", { "x-test-user": "alice" });
    assert.equal(several.status, 403);
    assert.equal(several.type, "application/json");
    assert.deepEqual(several.body, {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: 'Jumpgate: your roles allow several kubernetes_users in Kubernetes cluster "dev" (admin, alice@corp): pick one with kubectl --as=USER',
      reason: "Forbidden",
      code: 403,
    });
    const secrets = await get(port, "/api/v1/namespaces/dev/secrets/db", { "x-test-user": "alice", "impersonate-user": "alice@corp" });
    assert.equal(secrets.status, 403);
    assert.match(String(secrets.body.message), /may not get secrets "db" in namespace "dev" .*no role allows get on secret dev\/db/);
    const e = audit.at(-1);
    assert.equal(e?.event, "kube.request");
    assert.equal(e?.response_code, 403);
    assert.equal(e?.success, false);
    assert.equal(e?.resource, "secrets");
    assert.match(String(e?.error), /no role allows get on secret dev\/db/);
    const before = seen.length;
    const bad = await get(port, "/api/v1/namespaces/a%zz/pods", { "x-test-user": "bob" });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.reason, "BadRequest");
    assert.equal(seen.length, before, "nothing refused reached the API server");
  });

  test("a bearer token from a token file, read again as it changes; the Jumpgate user name without kubernetes_users", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kube-token-"));
    closers.push(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, "token");
    writeFileSync(path, `${SVC_TOKEN}\n`);
    const { port } = await front({ cluster: cluster({ credentials: { kind: "token-file", path } }) });
    const r = await get(port, "/api/v1/namespaces/dev/pods/web", { "x-test-user": "bob", authorization: "Bearer mine" });
    assert.equal(r.status, 200);
    const s = r.body.seen as Seen;
    assert.equal(s.authorization, `Bearer ${SVC_TOKEN}`);
    assert.equal(s.clientCn, undefined);
    assert.equal(s.user, "bob");
    assert.deepEqual(s.groups, ["viewers", "system:authenticated"]);
  });

  test("an API server the CA does not vouch for is a 502, not a silent connection", async () => {
    const other = await createCa({ commonName: "other CA", organization: "test", clock: systemClock });
    const { port } = await front({ cluster: cluster({ ca: other.certPem }) });
    const res = await new Promise<IncomingMessage>((resolve) =>
      http.get({ host: "127.0.0.1", port, path: "/version", headers: { "x-test-user": "bob" } }, resolve),
    );
    let body = "";
    for await (const c of res) body += String(c);
    assert.equal(res.statusCode, 502);
    assert.match(body, /TLS to upstream 127\.0\.0\.1:\d+ failed/);
    assert.equal(audit.at(-1)?.response_code, 502);
  });

  test("kubectl exec over v5.channel.k8s.io: forwarded untouched, recorded for jsh play, session.start/end with the exit code", async () => {
    const { port } = await front();
    const url = `ws://127.0.0.1:${port}/api/v1/namespaces/dev/pods/web/exec?command=sh&command=-c&command=read%20x&container=app&stdin=true&stdout=true&stderr=true&tty=true`;
    const ws = new WebSocket(url, ["v5.channel.k8s.io"], { headers: { "x-test-user": "alice", "impersonate-user": "alice@corp" }, perMessageDeflate: true });
    const got: Buffer[] = [];
    ws.on("message", (d: Buffer) => got.push(Buffer.from(d)));
    await once(ws, "open");
    assert.equal(ws.protocol, "v5.channel.k8s.io");
    ws.send(Buffer.concat([Buffer.from([4]), Buffer.from(JSON.stringify({ Width: 100, Height: 30 }))]));
    ws.send(Buffer.concat([Buffer.from([0]), Buffer.from("hello\n")]));
    const [code] = await once(ws, "close");
    assert.equal(code, 1000);
    // What the client got is exactly what the API server sent.
    assert.deepEqual(
      got.map((b) => [b[0], b.subarray(1).toString()]),
      [
        [1, "$ "],
        [1, "you said: hello\n"],
        [2, "warning: on stderr\n"],
        [3, '{"metadata":{},"status":"Failure","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"3"}]}}'],
      ],
    );
    const upgrade = seen.at(-1);
    assert.equal(upgrade?.user, "alice@corp");
    assert.equal(upgrade?.extensions, undefined, "no compression for a recorded session");

    await waitFor(() => audit.some((e) => e.event === "session.end"));
    const start = audit.find((e) => e.event === "session.start");
    const end = audit.find((e) => e.event === "session.end");
    assert.ok(start && end);
    const sid = String(start.sid);
    assert.match(sid, /^[0-9a-f-]{36}$/);
    for (const e of [start, end]) {
      assert.equal(e.sid, sid);
      assert.equal(e.kubernetes_cluster, "dev");
      assert.equal(e.kubernetes_pod_namespace, "dev");
      assert.equal(e.kubernetes_pod_name, "web");
      assert.equal(e.kubernetes_container_name, "app");
      assert.equal(e.kubernetes_user, "alice@corp");
      assert.equal(e.command, "sh -c read x");
      assert.equal(e.session_type, "exec");
      assert.equal(e.interactive, true);
      assert.equal(e.protocol, "v5.channel.k8s.io");
      assert.equal(e.user, "alice");
    }
    assert.equal(end.exit_code, 3);
    assert.equal(end.recording_id, sid);
    assert.deepEqual(end.participants, ["alice"]);
    const req = audit.find((e) => e.event === "kube.request" && e.subresource === "exec");
    assert.equal(req?.response_code, 101);
    assert.equal(req?.verb, "get");

    // The recording is in the SSH sessions' format: jsh play shows the container's output.
    assert.deepEqual(finished, [sid]);
    const file = readdirSync(spool).find((f) => f.startsWith(sid));
    assert.ok(file);
    const raw = readFileSync(join(spool, file));
    let shown = "";
    const sizes: Array<[number, number]> = [];
    const r = await play([raw], { speed: 1000, write: (t) => (shown += t), resize: (c, rows) => sizes.push([c, rows]), sleep: async () => {} });
    assert.equal(shown, "$ you said: hello\nwarning: on stderr\n");
    assert.deepEqual(sizes, [[100, 30]]);
    assert.equal(r.header.jumpgate.session_id, sid);
    assert.equal(r.header.jumpgate.user, "alice");
    assert.equal(r.header.jumpgate.login, "alice@corp");
    assert.equal(r.endReason, "end");
  });

  test("exec refused: a 403 Status on the upgrade, nothing reaches the API server, no session", async () => {
    const { port } = await front();
    audit.length = 0;
    const before = seen.length;
    const ws = new WebSocket(`ws://127.0.0.1:${port}/api/v1/namespaces/prod/pods/web/exec?command=sh`, ["v5.channel.k8s.io"], {
      headers: { "x-test-user": "alice", "impersonate-user": "admin" },
    });
    ws.on("error", () => {});
    const [, res] = (await once(ws, "unexpected-response")) as [unknown, IncomingMessage];
    let body = "";
    for await (const c of res) body += String(c);
    assert.equal(res.statusCode, 403);
    const status = JSON.parse(body) as { reason: string; message: string };
    assert.equal(status.reason, "Forbidden");
    assert.match(status.message, /may not get pods\/exec "web" in namespace "prod" .*no role allows exec on pod prod\/web/);
    assert.equal(seen.length, before);
    assert.deepEqual(
      audit.map((e) => e.event),
      ["kube.request"],
    );
  });

  /** A SPDY upgrade by hand (the fake API server echoes after its 101); resolves when the echo came back. */
  async function spdy(port: number, path: string): Promise<void> {
    const net = await import("node:net");
    const sock = net.connect(port, "127.0.0.1");
    await once(sock, "connect");
    sock.write(
      `POST ${path} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nx-test-user: alice\r\nimpersonate-user: admin\r\ncontent-length: 0\r\n\r\n`,
    );
    let got = "";
    sock.on("data", (d: Buffer) => {
      got += d.toString("latin1");
      if (got.includes("\r\n\r\n") && !got.includes("ping")) sock.write("ping");
    });
    await waitFor(() => got.includes("ping"));
    assert.match(got, /^HTTP\/1\.1 101 /);
    sock.destroy();
  }

  test("other upgrades (port-forward) pass through both ways, audited by response code", async () => {
    const { port } = await front();
    audit.length = 0;
    await spdy(port, "/api/v1/namespaces/dev/pods/web/portforward?ports=80");
    await waitFor(() => audit.length > 0);
    assert.deepEqual(
      audit.map((e) => [e.event, e.response_code, e.subresource]),
      [["kube.request", 101, "portforward"]],
    );
  });

  test("kubectl exec over SPDY: passed through, a session in the audit log without a recording", async () => {
    const { port } = await front();
    audit.length = 0;
    await spdy(port, "/api/v1/namespaces/dev/pods/web/exec?command=ls&container=app");
    await waitFor(() => audit.some((e) => e.event === "session.end"));
    assert.deepEqual(
      audit.map((e) => e.event),
      ["session.start", "kube.request", "session.end"],
    );
    const end = audit[2];
    assert.equal(end?.protocol, "SPDY/3.1");
    assert.equal(end?.command, "ls");
    assert.equal(end?.recording_id, undefined);
  });
});

async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 10));
  }
}
