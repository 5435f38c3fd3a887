/**
 * The lean unary path against the real Connect client: it must be
 * indistinguishable from Connect's own handler (answers, status codes and
 * messages, headers and trailers, deadlines), and leave alone what it does not
 * serve.
 */
import assert from "node:assert/strict";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, createContextKey, createContextValues, type HandlerContext } from "@connectrpc/connect";
import { compressionGzip, connectNodeAdapter, createGrpcTransport } from "@connectrpc/connect-node";
import { accessDenied, badParameter, isJumpgateError } from "../../../api/errors.ts";
import { AuthService, type Certs, CertsSchema, type GenerateUserCertsRequest } from "../../../api/gen/jumpgate/v1/auth_pb.ts";
import { toConnectError } from "../../../api/rpc-errors.ts";
import { decodeIdentity, generateKeySet } from "../../crypto/index.ts";
import { startTestApi } from "../testing/api.ts";
import { authFixture } from "../testing/fixture.ts";
import { installFastUnary, MAX_UNARY_REQUEST_BYTES } from "./grpc-unary.ts";

const who = createContextKey("nobody");

interface Seen {
  req: GenerateUserCertsRequest;
  hc: HandlerContext;
}

describe("lean gRPC unary path", () => {
  let srv: http2.Http2Server;
  let served: () => number;
  let baseUrl: string;
  const seen: Seen[] = [];
  const sessions = new Set<http2.ServerHttp2Session>();
  let behaviour: (req: GenerateUserCertsRequest, hc: HandlerContext) => Promise<Certs> = async () => create(CertsSchema);

  // Like handlers.ts: errors leave as ConnectErrors made by toConnectError.
  const impl = {
    async generateUserCerts(req: GenerateUserCertsRequest, hc: HandlerContext) {
      seen.push({ req, hc });
      try {
        return await behaviour(req, hc);
      } catch (e) {
        throw toConnectError(e);
      }
    },
    async generateHostCerts() {
      return create(CertsSchema, { username: "host" });
    },
  };

  before(async () => {
    const values = () => createContextValues().set(who, "alice");
    srv = http2.createServer(connectNodeAdapter({ routes: (r) => r.service(AuthService, impl), contextValues: values }));
    served = installFastUnary(srv, { service: AuthService, impl, methods: ["generateUserCerts"], contextValues: values });
    srv.on("session", (s) => sessions.add(s));
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
    baseUrl = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
  });
  after(async () => {
    for (const s of sessions) s.destroy();
    await new Promise<void>((r) => srv.close(() => r()));
  });

  const client = (opts: Partial<Parameters<typeof createGrpcTransport>[0]> = {}) => createClient(AuthService, createGrpcTransport({ baseUrl, ...opts }));

  it("answers with the handler's message, and gives it Connect's context", async () => {
    behaviour = async (req) => create(CertsSchema, { username: req.user, sshCert: "ssh-ed25519-cert-v01@openssh.com AAAA", roles: ["access"] });
    const before = served();
    const r = await client().generateUserCerts({ user: "bob", sshPublicKey: "k", tlsPublicKey: "t", ttlSeconds: 60n });
    assert.equal(served(), before + 1);
    assert.equal(r.username, "bob");
    assert.deepEqual(r.roles, ["access"]);
    const last = seen.at(-1);
    assert.ok(last);
    assert.equal(last.req.ttlSeconds, 60n);
    assert.equal(last.hc.values.get(who), "alice");
    assert.equal(last.hc.method.name, "GenerateUserCerts");
    assert.equal(last.hc.service.typeName, AuthService.typeName);
    assert.equal(last.hc.protocolName, "grpc");
    assert.equal(last.hc.requestMethod, "POST");
    assert.match(last.hc.requestHeader.get("content-type") ?? "", /^application\/grpc/);
    assert.ok(last.hc.url.endsWith("/jumpgate.v1.AuthService/GenerateUserCerts"));
    assert.equal(last.hc.signal.aborted, false);
  });

  it("sends the status code and the exact message, in trailers and trailers-only answers", async () => {
    for (const [err, code] of [
      [accessDenied("only an administrator may sign certificates for another user"), Code.PermissionDenied],
      [badParameter('the SSH public key is not valid: 100% "wrong" – ünïcødé\nsecond line'), Code.InvalidArgument],
      [new Error("boom"), Code.Internal],
    ] as const) {
      behaviour = async () => {
        throw err;
      };
      const e = await client()
        .generateUserCerts({ user: "x" })
        .then(
          () => undefined,
          (x: unknown) => x,
        );
      assert.ok(e instanceof ConnectError, String(e));
      assert.equal(e.code, code);
      assert.equal(e.rawMessage, toConnectError(err).rawMessage);
    }
  });

  it("passes on response headers and trailers a handler sets", async () => {
    behaviour = async (_req, hc) => {
      hc.responseHeader.set("x-head", "h");
      hc.responseTrailer.set("x-trail", "t");
      return create(CertsSchema, { username: "y" });
    };
    let head: Headers | undefined;
    let trail: Headers | undefined;
    await client().generateUserCerts({ user: "y" }, { onHeader: (h) => (head = h), onTrailer: (t) => (trail = t) });
    assert.equal(head?.get("x-head"), "h");
    assert.equal(trail?.get("x-trail"), "t");
  });

  it("keeps deadlines: the caller gets DeadlineExceeded and the handler's signal aborts", async () => {
    let signal: AbortSignal | undefined;
    behaviour = async (_req, hc) => {
      signal = hc.signal;
      assert.ok((hc.timeoutMs() ?? 0) > 0);
      await new Promise((r) => setTimeout(r, 300));
      return create(CertsSchema);
    };
    const e = await client({ defaultTimeoutMs: 50 })
      .generateUserCerts({ user: "slow" })
      .then(
        () => undefined,
        (x: unknown) => x,
      );
    assert.ok(e instanceof ConnectError);
    assert.equal(e.code, Code.DeadlineExceeded);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(signal?.aborted, true);
  });

  it("refuses oversized requests", async () => {
    behaviour = async () => create(CertsSchema);
    const e = await client()
      .generateUserCerts({ user: "big", sshPublicKey: "x".repeat(MAX_UNARY_REQUEST_BYTES + 10) })
      .then(
        () => undefined,
        (x: unknown) => x,
      );
    assert.ok(e instanceof ConnectError);
    assert.equal(e.code, Code.ResourceExhausted);
  });

  it("leaves compressed and JSON requests, and other methods, to Connect", async () => {
    behaviour = async (req) => create(CertsSchema, { username: req.user });
    const before = served();
    const gz = await client({ sendCompression: compressionGzip, compressMinBytes: 1 }).generateUserCerts({ user: "gz", sshPublicKey: "k".repeat(2000) });
    assert.equal(gz.username, "gz");
    const json = await client({ useBinaryFormat: false }).generateUserCerts({ user: "json" });
    assert.equal(json.username, "json");
    const host = await client().generateHostCerts({ hostId: "h" });
    assert.equal(host.username, "host");
    assert.equal(served(), before);
  });

  it("serves many calls at once on one connection", async () => {
    behaviour = async (req) => {
      await new Promise((r) => setImmediate(r));
      return create(CertsSchema, { username: req.user });
    };
    const c = client();
    const names = Array.from({ length: 200 }, (_, i) => `u${i}`);
    const got = await Promise.all(names.map((user) => c.generateUserCerts({ user })));
    assert.deepEqual(
      got.map((r) => r.username),
      names,
    );
  });

  it("refuses to serve what is not a unary method of the service", () => {
    const s = http2.createServer();
    assert.throws(
      () => installFastUnary(s, { service: AuthService, impl, methods: ["watch"], contextValues: () => createContextValues() }),
      /not a unary method/,
    );
    assert.throws(
      () => installFastUnary(s, { service: AuthService, impl, methods: ["ping"], contextValues: () => createContextValues() }),
      /not a unary method/,
    );
  });
});

describe("certificate issuance through the Auth API", () => {
  let f: Awaited<ReturnType<typeof authFixture>>;
  let api: Awaited<ReturnType<typeof startTestApi>>;
  before(async () => {
    f = await authFixture({ secondFactor: "off" }, new Date());
    api = await startTestApi(f.server);
    await f.addUser("ann", ["access"], { logins: ["ann"] });
    await f.addUser("bob", ["access"], { logins: ["bob"] });
  });
  after(async () => {
    await api.close();
    await f.close();
  });

  it("admins sign for users, users renew their own, and refusals are audited with the method name", async () => {
    const admin = await api.asHost("admin", "admin.test");
    const k = generateKeySet();
    const signed = await admin.generateUserCerts({ user: "ann", sshPublicKey: k.sshPublicKey, tlsPublicKey: k.tlsPublicKey });
    assert.equal(decodeIdentity(signed.tlsCert).username, "ann");
    assert.deepEqual(signed.logins, ["ann"]);

    const ann = await api.asUser("ann");
    const renewed = await ann.generateUserCerts({ sshPublicKey: k.sshPublicKey, tlsPublicKey: k.tlsPublicKey });
    assert.equal(renewed.username, "ann");
    await assert.rejects(
      ann.generateUserCerts({ user: "bob", sshPublicKey: k.sshPublicKey, tlsPublicKey: k.tlsPublicKey }),
      (e) => isJumpgateError(e, "access-denied") && /only an administrator/.test(e.message),
    );
    await assert.rejects(
      ann.generateUserCerts({ sshPublicKey: "nonsense", tlsPublicKey: k.tlsPublicKey }),
      (e) => isJumpgateError(e, "bad-parameter") && /SSH public key/.test(e.message),
    );
    await assert.rejects(api.anonymous().generateUserCerts({ user: "ann", sshPublicKey: k.sshPublicKey, tlsPublicKey: k.tlsPublicKey }), (e) =>
      isJumpgateError(e, "access-denied"),
    );
    const host = await admin.generateHostCerts({
      hostId: "node-1",
      nodeName: "web-1",
      role: "node",
      sshPublicKey: k.sshPublicKey,
      tlsPublicKey: k.tlsPublicKey,
    });
    assert.deepEqual(decodeIdentity(host.tlsCert).systemRoles, ["node"]);
    await assert.rejects(ann.generateHostCerts({ hostId: "node-2", sshPublicKey: k.sshPublicKey, tlsPublicKey: k.tlsPublicKey }), (e) =>
      isJumpgateError(e, "access-denied"),
    );
    const refusals = (await f.auditEvents("auth")).filter((e) => e.method === "GenerateUserCerts");
    assert.equal(refusals.length, 2);
    assert.ok(refusals.some((e) => e.user === "ann" && /only an administrator/.test(String(e.error))));
  });
});
