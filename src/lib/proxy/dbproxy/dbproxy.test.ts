import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import net from "node:net";
import { Duplex, PassThrough } from "node:stream";
import { after, before, describe, test } from "node:test";
import tls from "node:tls";
import pino from "pino";
import { systemClock } from "../../../api/clock.ts";
import { dbSni, PG_GSSENC_REQUEST_CODE, PG_PROTOCOL_V3, PG_SSL_REQUEST_CODE } from "../../../api/dbwire.ts";
import { parseResourceOf } from "../../../api/resources/index.ts";
import { dialDatabase, dialReuseForTests } from "../../client/dbproxy.ts";
import { type CertificateAuthority, createCa, type Identity, issueClientCertificate, issueServerCertificate } from "../../crypto/index.ts";
import { DatabaseService, type DbEngine, type DbSessionContext } from "../../srv/db/index.ts";
import { Multiplexer } from "../mux.ts";
import { pgPreTlsStep } from "./pgfront.ts";
import { DbProxy } from "./server.ts";

const log = pino({ level: "silent" });

function pgPacket(code: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt32BE(8, 0);
  b.writeUInt32BE(code, 4);
  return b;
}

function startupMessage(params: Record<string, string>): Buffer {
  const body = Buffer.concat([...Object.entries(params).map(([k, v]) => Buffer.from(`${k}\0${v}\0`)), Buffer.from([0])]);
  const head = Buffer.alloc(8);
  head.writeUInt32BE(body.length + 8, 0);
  head.writeUInt32BE(PG_PROTOCOL_V3, 4);
  return Buffer.concat([head, body]);
}

/** The `M` field of an ErrorResponse. */
function errorMessage(b: Buffer): string | undefined {
  if (b[0] !== 0x45) return undefined;
  for (const f of b.subarray(5).toString("utf8").split("\0")) if (f.startsWith("M")) return f.slice(1);
  return undefined;
}

describe("pgPreTlsStep", () => {
  test("classifies what a Postgres client sends before TLS", () => {
    assert.deepEqual(pgPreTlsStep(Buffer.alloc(3)), { action: "need-more" });
    assert.deepEqual(pgPreTlsStep(pgPacket(PG_SSL_REQUEST_CODE)), { action: "tls", consumed: 8 });
    assert.deepEqual(pgPreTlsStep(pgPacket(PG_GSSENC_REQUEST_CODE)), { action: "no-gssenc", consumed: 8 });
    assert.equal(pgPreTlsStep(startupMessage({ user: "alice" })).action, "refuse");
    const cancel = Buffer.alloc(16);
    cancel.writeUInt32BE(16, 0);
    cancel.writeUInt32BE(80877102, 4);
    assert.deepEqual(pgPreTlsStep(cancel), { action: "close" });
    const bogus = pgPacket(0x12345678);
    assert.equal(pgPreTlsStep(bogus).action, "refuse");
  });
});

describe("DbProxy → DatabaseService", () => {
  let userCa: CertificateAuthority;
  let foreignCa: CertificateAuthority;
  let hostCa: CertificateAuthority;
  let serverTls: { cert: string; key: string };
  let mux: Multiplexer;
  let port: number;
  const sessions: DbSessionContext[] = [];
  const audit: Record<string, unknown>[] = [];

  /** Echoes bytes after authorizing the route's user and database. */
  const echo: DbEngine = {
    protocol: "postgres",
    handle: async (client: Duplex, ctx: DbSessionContext) => {
      sessions.push(ctx);
      await ctx.authorize(ctx.identity.route.username, ctx.identity.route.database);
      client.pipe(client);
      await new Promise((r) => client.once("close", r));
    },
  };

  const userCert = async (ca: CertificateAuthority, o: { route?: Identity["routeToDatabase"]; issuedAgoMs?: number; user?: string } = {}) => {
    const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const identity: Identity = {
      kind: "user",
      username: o.user ?? "alice",
      roles: ["access"],
      logins: [],
      traits: {},
      kubernetesGroups: [],
      kubernetesUsers: [],
      activeRequests: [],
      expires: new Date(Date.now() + 3600_000),
      systemRoles: [],
      clusterName: "test",
      ...(o.route === undefined ? {} : { routeToDatabase: o.route }),
    };
    const cert = await issueClientCertificate({
      caCert: ca.certPem,
      caKey: ca.privateKey,
      publicKey,
      identity,
      ttlMs: 3600_000,
      clock: o.issuedAgoMs ? { now: () => new Date(Date.now() - (o.issuedAgoMs ?? 0)) } : systemClock,
    });
    return { cert, key: privateKey.export({ format: "pem", type: "pkcs8" }).toString() };
  };

  before(async () => {
    userCa = await createCa({ commonName: "test", organization: "user", clock: systemClock });
    foreignCa = await createCa({ commonName: "other", organization: "user", clock: systemClock });
    hostCa = await createCa({ commonName: "test", organization: "host", clock: systemClock });
    const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    serverTls = {
      cert: await issueServerCertificate({
        caCert: hostCa.certPem,
        caKey: hostCa.privateKey,
        publicKey,
        commonName: "proxy",
        dnsNames: ["localhost"],
        ipAddresses: [],
        ttlMs: 3600_000,
        clock: systemClock,
        // A proxy's host identity, as jsh checks inside the database route.
        identity: {
          kind: "host",
          username: "h-proxy.test",
          hostId: "h-proxy.test",
          roles: [],
          logins: [],
          traits: {},
          kubernetesGroups: [],
          kubernetesUsers: [],
          activeRequests: [],
          expires: new Date(Date.now() + 3600_000),
          systemRoles: ["proxy"],
          clusterName: "test",
        },
      }),
      key: privateKey.export({ format: "pem", type: "pkcs8" }).toString(),
    };
    const service = new DatabaseService({
      hostId: "h1",
      nodeName: "db-1",
      databases: () => [{ name: "pg", protocol: "postgres", uri: "127.0.0.1:1", labels: { env: "dev" }, auth: { kind: "cert" }, auditQueries: true }],
      engines: { postgres: echo },
      userCas: () => [userCa.certPem],
      getUser: async (name) => (name === "ghost" ? undefined : { roles: ["access"], traits: {} }),
      getRole: async (name) =>
        parseResourceOf("role", {
          kind: "role",
          version: "v7",
          metadata: { name },
          spec: { allow: { db_labels: { "*": "*" }, db_users: ["alice"], db_names: ["*"] } },
        }),
      lockedBy: async (who) => (who.user === "locked" ? "user locked is locked: test" : undefined),
      serverCredentials: async () => ({ cert: "", key: "", cas: [] }),
      audit: (e) => audit.push(e),
      clock: systemClock,
      log,
    });
    const proxy = new DbProxy({
      userCas: () => [userCa.certPem],
      serverTls: () => serverTls,
      findServers: async (name) => (name === "pg" ? [{ hostId: "h1", name, protocol: "postgres", viaTunnel: true }] : []),
      lockedBy: async (who) => (who.user === "proxylocked" ? "user proxylocked is locked" : undefined),
      dial: async (_srv, info) => {
        // A reverse-tunnel channel stands in as a pair of PassThroughs.
        const toService = new PassThrough();
        const toProxy = new PassThrough();
        const proxySide = duplexOf(toProxy, toService);
        const serviceSide = duplexOf(toService, toProxy);
        void service.handleConnection(serviceSide, info);
        return proxySide;
      },
      clock: systemClock,
      log,
    });
    mux = new Multiplexer({ tls: serverTls, log });
    mux.handleRaw("postgres", (s, info) => proxy.handlePostgres(s, info));
    mux.handleAlpn("jumpgate-postgres", (s, info) => proxy.handleAlpn(s, info));
    port = (await mux.listen("127.0.0.1", 0)).port;
  });
  after(async () => {
    await mux.close();
  });

  /** psql's path: SSLRequest, `S`, TLS with the client certificate. */
  const pgDirect = async (creds: { cert: string; key: string } | undefined): Promise<tls.TLSSocket> => {
    const raw = net.connect(port, "127.0.0.1");
    await new Promise((r) => raw.once("connect", r));
    raw.write(pgPacket(PG_SSL_REQUEST_CODE));
    const answer = await new Promise<Buffer>((r) => raw.once("data", r));
    assert.equal(answer.toString(), "S");
    const s = tls.connect({ socket: raw, ca: [hostCa.certPem], servername: "localhost", ...(creds ?? {}) });
    await new Promise((r, j) => s.once("secureConnect", r).once("error", j));
    return s;
  };

  const alpnTunnel = async (creds: { cert: string; key: string }, servername = "localhost"): Promise<tls.TLSSocket> => {
    const outer = tls.connect({ port, host: "127.0.0.1", ALPNProtocols: ["jumpgate-postgres"], rejectUnauthorized: false });
    await new Promise((r, j) => outer.once("secureConnect", r).once("error", j));
    const inner = tls.connect({ socket: outer, ca: [hostCa.certPem], servername, checkServerIdentity: () => undefined, ...creds });
    await new Promise((r, j) => inner.once("secureConnect", r).once("error", j));
    return inner;
  };

  const roundTrip = async (s: tls.TLSSocket, data: Buffer): Promise<Buffer> => {
    s.write(data);
    let got = Buffer.alloc(0);
    while (got.length < data.length) got = Buffer.concat([got, await new Promise<Buffer>((r) => s.once("data", r))]);
    return got;
  };

  const readAll = (s: Duplex): Promise<Buffer> =>
    new Promise((resolve) => {
      const parts: Buffer[] = [];
      s.on("data", (d: Buffer) => parts.push(d));
      s.on("error", () => resolve(Buffer.concat(parts)));
      s.on("close", () => resolve(Buffer.concat(parts)));
    });

  test("a Postgres client at the port reaches the engine with its identity", async () => {
    const s = await pgDirect(await userCert(userCa, { route: { serviceName: "pg", protocol: "postgres", username: "alice", database: "test" } }));
    const msg = startupMessage({ user: "alice", database: "test" });
    assert.deepEqual(await roundTrip(s, msg), msg);
    const ctx = sessions.at(-1);
    assert.equal(ctx?.identity.user, "alice");
    assert.equal(ctx?.database.name, "pg");
    assert.match(ctx?.clientAddr ?? "", /^127\.0\.0\.1:\d+$/);
    s.destroy();
  });

  test("the ALPN route with TLS inside reaches the engine", async () => {
    const s = await alpnTunnel(await userCert(userCa, { route: { serviceName: "pg", protocol: "postgres", username: "alice", database: "" } }));
    const big = Buffer.alloc(256 * 1024, 7);
    assert.equal((await roundTrip(s, big)).length, big.length);
    s.destroy();
  });

  test("the ALPN route naming the certificate's database in its SNI reaches the engine", async () => {
    const s = await alpnTunnel(await userCert(userCa, { route: { serviceName: "pg", protocol: "postgres", username: "alice", database: "" } }), dbSni("pg"));
    const msg = startupMessage({ user: "alice", database: "test" });
    assert.deepEqual(await roundTrip(s, msg), msg);
    s.destroy();
  });

  test("jsh resumes both TLS sessions on later connections, and a resumed session still carries the verified identity", async () => {
    const creds = await userCert(userCa, { route: { serviceName: "pg", protocol: "postgres", username: "alice", database: "" } });
    const reuse = dialReuseForTests();
    const dial = () =>
      dialDatabase(
        {
          profile: { proxy: `127.0.0.1:${port}`, insecure: true },
          database: { name: "pg", protocol: "postgres" },
          credentials: { ...creds, hostCas: [hostCa.certPem] },
        },
        reuse,
      );
    const msg = startupMessage({ user: "alice", database: "test" });
    const first = await dial();
    assert.deepEqual(await roundTrip(first, msg), msg);
    first.destroy();
    for (let i = 0; i < 2; i++) {
      const s = await dial();
      assert.equal(s.isSessionReused(), true, "inner session resumed");
      assert.equal((s as unknown as { _parent?: tls.TLSSocket })._parent?.isSessionReused(), true, "outer session resumed");
      assert.deepEqual(await roundTrip(s, msg), msg);
      const ctx = sessions.at(-1);
      assert.equal(ctx?.identity.user, "alice");
      assert.equal(ctx?.database.name, "pg");
      s.destroy();
    }
    // A resumed session whose certificate has since expired is refused like a fresh one.
    const expired = await userCert(userCa, { route: { serviceName: "pg", protocol: "postgres", username: "alice", database: "" }, issuedAgoMs: 2 * 3600_000 });
    const r2 = dialReuseForTests();
    const s = await dialDatabase(
      {
        profile: { proxy: `127.0.0.1:${port}`, insecure: true },
        database: { name: "pg", protocol: "postgres" },
        credentials: { ...expired, hostCas: [hostCa.certPem] },
      },
      r2,
    );
    const all = readAll(s);
    s.write(msg);
    assert.match(errorMessage(await all) ?? "(no ErrorResponse)", /expired/);
  });

  test("a certificate for another database than the one named in the SNI is refused, not rerouted", async () => {
    const s = await alpnTunnel(await userCert(userCa, { route: { serviceName: "pg", protocol: "postgres", username: "alice", database: "" } }), dbSni("other"));
    const all = readAll(s);
    s.write(startupMessage({ user: "alice", database: "test" }));
    assert.match(errorMessage(await all) ?? "(no ErrorResponse)", /this certificate is for database pg, not other: run jsh db login other/);
  });

  test("GSSENCRequest gets N, a plaintext StartupMessage an ErrorResponse", async () => {
    const raw = net.connect(port, "127.0.0.1");
    await new Promise((r) => raw.once("connect", r));
    raw.write(pgPacket(PG_GSSENC_REQUEST_CODE));
    assert.equal((await new Promise<Buffer>((r) => raw.once("data", r))).toString(), "N");
    const all = readAll(raw);
    raw.write(startupMessage({ user: "alice" }));
    assert.match(errorMessage(await all) ?? "", /only over TLS/);
  });

  for (const [what, make, want] of [
    [
      "a certificate from another CA",
      () => userCert(foreignCa, { route: { serviceName: "pg", protocol: "postgres", username: "alice", database: "" } }),
      /signed by an unknown authority/,
    ],
    [
      "an expired certificate",
      () => userCert(userCa, { issuedAgoMs: 2 * 3600_000, route: { serviceName: "pg", protocol: "postgres", username: "alice", database: "" } }),
      /expired/,
    ],
    ["a certificate without a database route", () => userCert(userCa), /not for a database/],
    [
      "a certificate for an unknown database",
      () => userCert(userCa, { route: { serviceName: "nope", protocol: "postgres", username: "alice", database: "" } }),
      /not available/,
    ],
    [
      "a locked user (proxy)",
      () => userCert(userCa, { user: "proxylocked", route: { serviceName: "pg", protocol: "postgres", username: "alice", database: "" } }),
      /is locked/,
    ],
    [
      "a locked user (service)",
      () => userCert(userCa, { user: "locked", route: { serviceName: "pg", protocol: "postgres", username: "alice", database: "" } }),
      /is locked/,
    ],
    [
      "a db user outside the role",
      () => userCert(userCa, { route: { serviceName: "pg", protocol: "postgres", username: "bob", database: "" } }),
      /access to db denied/,
    ],
  ] as const) {
    test(`${what} is refused with an ErrorResponse psql prints`, async () => {
      const s = await pgDirect(await make());
      const all = readAll(s);
      s.write(startupMessage({ user: "alice", database: "test" }));
      const msg = errorMessage(await all);
      assert.match(msg ?? "(no ErrorResponse)", want);
    });
  }

  test("no client certificate is refused too", async () => {
    const s = await pgDirect(undefined);
    const all = readAll(s);
    s.write(startupMessage({ user: "alice" }));
    assert.match(errorMessage(await all) ?? "", /no client certificate/);
  });

  test("refusals at the service are audited", () => {
    assert.ok(audit.some((e) => e.event === "db.session.start" && e.success === false));
  });
});

/** A Duplex that reads from `r` and writes to `w`. */
function duplexOf(r: PassThrough, w: PassThrough): Duplex {
  return Duplex.from({ readable: r, writable: w });
}
