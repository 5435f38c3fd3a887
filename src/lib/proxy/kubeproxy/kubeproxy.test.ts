import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { once } from "node:events";
import net, { type AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import tls from "node:tls";
import { systemClock } from "../../../api/clock.ts";
import { decodeKubeHeader, type KubeConnHeader, kubeSni } from "../../../api/kubewire.ts";
import { type CertificateAuthority, createCa, type Identity, issueClientCertificate, issueServerCertificate } from "../../crypto/index.ts";
import { Multiplexer } from "../mux.ts";
import { testLog } from "../proxy.test-helpers.ts";
import type { KubeServerRoute } from "./dialer.ts";
import { KubeProxy, type KubeRefusal } from "./server.ts";

const PROXY_HOST = "proxy.example.test";
const PODS =
  "GET /api/v1/namespaces/default/pods?limit=500 HTTP/1.1\r\nHost: proxy.example.test:3080\r\nUser-Agent: kubectl/v1.32\r\nAccept: application/json\r\n\r\n";

type Creds = { cert: string; key: string };

/**
 * A stand-in Kubernetes Service behind the fake tunnel: reads the stream
 * header, then answers every request with 200 and the request line it got.
 */
async function fakeService() {
  const headers: KubeConnHeader[] = [];
  const received: string[] = [];
  const server = net.createServer((s) => {
    let buf = Buffer.alloc(0);
    let header = false;
    s.on("error", () => s.destroy());
    s.on("data", (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (!header) {
        const r = decodeKubeHeader(buf);
        if (r.kind === "need-more") return;
        header = true;
        headers.push(r.header);
        buf = buf.subarray(r.consumed);
      }
      for (let end = buf.indexOf("\r\n\r\n"); end >= 0; end = buf.indexOf("\r\n\r\n")) {
        const req = buf.subarray(0, end + 4).toString("latin1");
        received.push(req);
        buf = buf.subarray(end + 4);
        const body = `pods for ${req.split("\r\n")[0]}`;
        s.write(`HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
      }
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as AddressInfo).port;
  return { headers, received, port, close: () => server.close() };
}

describe("the proxy's Kubernetes route (SNI kube.<proxy host>)", () => {
  let userCa: CertificateAuthority;
  let hostCa: CertificateAuthority;
  let foreignCa: CertificateAuthority;
  let mux: Multiplexer;
  let port = 0;
  let service: Awaited<ReturnType<typeof fakeService>>;
  const refusals: KubeRefusal[] = [];
  const locked = new Set<string>();
  /** Which hosts serve which cluster; "down" has a heartbeat but its dial fails. */
  const serving = new Map<string, KubeServerRoute[]>();
  const dials: { hostId: string; target: string; clientAddr: string }[] = [];

  const userCert = async (
    ca: CertificateAuthority,
    o: { cluster?: string; user?: string; issuedAgoMs?: number; ttlMs?: number; kind?: "host" } = {},
  ): Promise<Creds> => {
    const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const identity: Identity = {
      kind: o.kind ?? "user",
      username: o.user ?? "alice",
      roles: ["kube-dev"],
      logins: [],
      traits: {},
      kubernetesGroups: [],
      kubernetesUsers: [],
      activeRequests: [],
      expires: new Date(Date.now() + 3600_000),
      systemRoles: [],
      clusterName: "test",
      ...(o.kind === "host" ? { hostId: o.user ?? "alice", systemRoles: ["kube"] } : {}),
      ...(o.cluster === undefined ? {} : { kubernetesCluster: o.cluster }),
    };
    const clock = o.issuedAgoMs ? { now: () => new Date(Date.now() - (o.issuedAgoMs ?? 0)) } : systemClock;
    const cert = await issueClientCertificate({ caCert: ca.certPem, caKey: ca.privateKey, publicKey, identity, ttlMs: o.ttlMs ?? 3600_000, clock });
    return { cert, key: privateKey.export({ format: "pem", type: "pkcs8" }).toString() };
  };

  /** What kubectl does: TLS with the kube server name (verifying the host CA), h2 and http/1.1 offered, one request. */
  const kubectl = async (creds: Creds | undefined, request = PODS): Promise<{ raw: string; alpn: string | false | null }> => {
    const s = tls.connect({
      host: "127.0.0.1",
      port,
      servername: kubeSni(`${PROXY_HOST}:3080`),
      ca: hostCa.certPem,
      ALPNProtocols: ["h2", "http/1.1"],
      ...(creds ?? {}),
    });
    let raw = "";
    const requests = request.split("\r\n\r\n").length - 1;
    s.on("data", (c: Buffer) => {
      raw += c.toString();
      // The fake service's bodies end with the request line: close once every request has its answer.
      if ((raw.match(/pods for [^\r\n]* HTTP\/1\.1(?=HTTP|$)/g) ?? []).length === requests) s.end();
    });
    s.on("error", () => undefined);
    await once(s, "secureConnect");
    const alpn = s.alpnProtocol;
    s.write(request);
    await once(s, "close");
    return { raw, alpn };
  };

  const status = (raw: string) => {
    const [head = "", body = ""] = raw.split("\r\n\r\n");
    const [line, ...fields] = head.split("\r\n");
    const h = Object.fromEntries(fields.map((f) => [f.slice(0, f.indexOf(":")).toLowerCase(), f.slice(f.indexOf(":") + 1).trim()]));
    return { line, headers: h, body: JSON.parse(body) as Record<string, unknown> };
  };

  const refused = async (creds: Creds | undefined, code: number, reason: string, message: RegExp): Promise<KubeRefusal> => {
    const n = refusals.length;
    const { raw } = await kubectl(creds);
    const st = status(raw);
    assert.equal(st.line, `HTTP/1.1 ${code} ${code === 401 ? "Unauthorized" : code === 403 ? "Forbidden" : "Service Unavailable"}`);
    assert.equal(st.headers["content-type"], "application/json");
    assert.equal(st.headers.connection, "close");
    // kubectl prints it even where it shows a fixed text instead of the Status (API discovery).
    assert.equal(st.headers.warning, `299 - "${String(st.body.message)}"`);
    assert.deepEqual(Object.keys(st.body), ["kind", "apiVersion", "metadata", "status", "message", "reason", "code"]);
    assert.deepEqual({ ...st.body, message: "" }, { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message: "", reason, code });
    assert.match(String(st.body.message), message);
    for (let i = 0; i < 50 && refusals.length === n; i++) await new Promise((r) => setTimeout(r, 10));
    const r = refusals.at(-1);
    assert.ok(r && refusals.length === n + 1, "the refusal was reported once");
    assert.equal(r.reason, st.body.message);
    assert.equal(r.code, code);
    assert.match(r.clientAddr, /^127\.0\.0\.1:\d+$/);
    assert.deepEqual(r.request, { verb: "GET", path: "/api/v1/namespaces/default/pods" });
    return r;
  };

  before(async () => {
    userCa = await createCa({ commonName: "test", organization: "user", clock: systemClock });
    hostCa = await createCa({ commonName: "test", organization: "host", clock: systemClock });
    foreignCa = await createCa({ commonName: "other", organization: "user", clock: systemClock });
    const pub = await createCa({ commonName: "public", organization: "web", clock: systemClock });
    const pair = async (ca: CertificateAuthority, dns: string) => {
      const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
      const cert = await issueServerCertificate({
        caCert: ca.certPem,
        caKey: ca.privateKey,
        publicKey,
        commonName: "proxy",
        dnsNames: [dns],
        ipAddresses: [],
        ttlMs: 3600_000,
        clock: systemClock,
      });
      return { cert, key: privateKey.export({ format: "pem", type: "pkcs8" }).toString() };
    };
    service = await fakeService();
    const kube = new KubeProxy({
      userCas: () => [userCa.certPem],
      routes: {
        findServers: async (cluster) => serving.get(cluster) ?? [],
        dial: async (srv, info) => {
          dials.push({ hostId: srv.hostId, ...info });
          if (srv.hostId === "down") throw new Error("no tunnel");
          const s = net.connect(service.port, "127.0.0.1");
          await once(s, "connect");
          return s;
        },
      },
      lockedBy: async (who) => (locked.has(who.user) ? `user ${who.user} is locked: investigation` : undefined),
      onRefused: (r) => refusals.push(r),
      clock: systemClock,
      log: testLog(),
      answerTimeoutMs: 1_000,
    });
    // The public certificate is from another CA: kubectl pins the host CA, which signs the route's own.
    mux = new Multiplexer({ tls: await pair(pub, PROXY_HOST), log: testLog(), handshakeTimeoutMs: 2_000 });
    const own = { ...(await pair(hostCa, kubeSni(PROXY_HOST))), ca: [userCa.certPem] };
    mux.handleClientCertSni((n) => n === kubeSni(PROXY_HOST), ["http/1.1"], kube.handle, { tls: () => own });
    port = (await mux.listen("127.0.0.1", 0)).port;
    serving.set("dev", [{ hostId: "h1", cluster: "dev" }]);
  });
  after(async () => {
    await mux.close();
    service.close();
  });

  test("a certificate for the cluster: the stream to the service starts with the header, then kubectl's bytes as they are", async () => {
    const creds = await userCert(userCa, { cluster: "dev" });
    const { raw, alpn } = await kubectl(creds);
    assert.equal(alpn, "http/1.1", "h2 is offered but not served");
    assert.match(raw, /^HTTP\/1\.1 200 OK\r\n/);
    assert.ok(raw.endsWith("\r\n\r\npods for GET /api/v1/namespaces/default/pods?limit=500 HTTP/1.1"), raw);
    assert.equal(service.received.at(-1), PODS, "the request reached the service byte for byte");
    const h = service.headers.at(-1);
    assert.equal(h?.cluster, "dev");
    assert.match(h?.clientAddr ?? "", /^127\.0\.0\.1:\d+$/);
    assert.equal(h?.cert.replace(/\s/g, ""), creds.cert.replace(/\s/g, ""), "the leaf, PEM; the self-signed CA is left out");
    assert.deepEqual(dials.at(-1), { hostId: "h1", target: "kube:dev", clientAddr: h?.clientAddr });
  });

  test("keep-alive: several requests on one connection all reach the service", async () => {
    const creds = await userCert(userCa, { cluster: "dev" });
    const n = service.received.length;
    const second = PODS.replace("limit=500", "limit=1");
    const { raw } = await kubectl(creds, PODS + second);
    assert.equal(service.received.length, n + 2);
    assert.equal(raw.match(/HTTP\/1\.1 200 OK/g)?.length, 2);
  });

  test("no certificate, an expired one, a foreign CA: 401, and kubectl is told to log in", async () => {
    const none = await refused(undefined, 401, "Unauthorized", /^no client certificate: run jsh kube login CLUSTER$/);
    assert.equal(none.user, undefined);
    const expired = await refused(
      await userCert(userCa, { cluster: "dev", issuedAgoMs: 2 * 3600_000, ttlMs: 3600_000 }),
      401,
      "Unauthorized",
      /^client certificate refused: certificate expired at .*; run jsh kube login CLUSTER$/,
    );
    assert.equal(expired.user, undefined);
    await refused(
      await userCert(foreignCa, { cluster: "dev" }),
      401,
      "Unauthorized",
      /^client certificate refused: certificate signed by an unknown authority/,
    );
  });

  test("a certificate without a cluster (jsh login's own) is told to run jsh kube login", async () => {
    const r = await refused(await userCert(userCa), 401, "Unauthorized", /^this certificate is not for a Kubernetes cluster: run jsh kube login CLUSTER$/);
    assert.equal(r.user, "alice");
    assert.equal(r.cluster, undefined);
  });

  test("a host certificate and a locked user: 403", async () => {
    await refused(await userCert(userCa, { cluster: "dev", kind: "host", user: "h-1" }), 403, "Forbidden", /host certificate/);
    locked.add("mallory");
    const r = await refused(await userCert(userCa, { cluster: "dev", user: "mallory" }), 403, "Forbidden", /^user mallory is locked: investigation$/);
    assert.deepEqual([r.user, r.cluster], ["mallory", "dev"]);
  });

  test("no Kubernetes Service for the cluster, or none answering: 503", async () => {
    const dialled = dials.length;
    const r = await refused(
      await userCert(userCa, { cluster: "prod" }),
      503,
      "ServiceUnavailable",
      /^Kubernetes cluster prod is not available: no Kubernetes Service serves it$/,
    );
    assert.deepEqual([r.user, r.cluster], ["alice", "prod"]);
    assert.equal(dials.length, dialled, "nothing dialled");
    serving.set("stage", [{ hostId: "down", cluster: "stage" }]);
    await refused(
      await userCert(userCa, { cluster: "stage" }),
      503,
      "ServiceUnavailable",
      /^cannot reach Kubernetes cluster stage: no Kubernetes Service answered$/,
    );
  });

  test("a refused client that sends nothing still gets its answer after the deadline", async () => {
    const s = tls.connect({ host: "127.0.0.1", port, servername: kubeSni(PROXY_HOST), ca: hostCa.certPem, ALPNProtocols: ["http/1.1"] });
    let raw = "";
    s.on("data", (c: Buffer) => (raw += c.toString()));
    s.on("error", () => undefined);
    await once(s, "close");
    assert.match(raw, /^HTTP\/1\.1 401 Unauthorized\r\n/);
    assert.equal(refusals.at(-1)?.request, undefined);
  });
});
