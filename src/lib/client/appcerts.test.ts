import assert from "node:assert/strict";
import { createPublicKey } from "node:crypto";
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { AuthClient } from "../../api/authclient.ts";
import { toProto } from "../../api/convert.ts";
import type { StoredResource } from "../../api/resource.ts";
import { parseResourceOf } from "../../api/resources/index.ts";
import { generateKeySet } from "../crypto/index.ts";
import { appUserCert, type TestCas, testCas } from "./app.test-helpers.ts";
import { appCertPaths, appLogin, appsFromServers, findAppCert, listAppCerts, listApps, loadAppCert, removeAppCerts } from "./appcerts.ts";
import { type Profile, saveProfile } from "./profile.ts";

const appServer = (name: string, host: string, spec: Record<string, unknown>, labels: Record<string, string> = {}, description?: string) =>
  parseResourceOf("app_server", {
    kind: "app_server",
    version: "v3",
    metadata: { name: `${name}@${host}` },
    spec: {
      host_id: host,
      hostname: host,
      app: { kind: "app", version: "v3", metadata: { name, labels, ...(description ? { description } : {}) }, spec },
    },
  });

interface Issued {
  name: string | undefined;
  ttl: bigint;
}

/** An Auth client that issues app certificates itself (the real Auth side is tested in lib/auth). */
function fakeAuth(cas: TestCas, o: { noRoute?: boolean; refuse?: string } = {}): { auth: AuthClient; issued: Issued[] } {
  const issued: Issued[] = [];
  const auth = {
    async generateUserCerts(req: { tlsPublicKey: string; ttlSeconds: bigint; routeToApp?: { name: string } }) {
      if (o.refuse) throw new Error(o.refuse);
      issued.push({ name: req.routeToApp?.name, ttl: req.ttlSeconds });
      const leaf = await appUserCert(cas.user, req.routeToApp?.name ?? "", { publicKey: createPublicKey(req.tlsPublicKey), route: o.noRoute ? null : {} });
      return { tlsCert: leaf.cert.trimEnd(), sshCert: "", hostCaCerts: [cas.host.certPem], tlsCaCerts: [cas.user.certPem] };
    },
    async listResources(req: { kind: string }) {
      assert.equal(req.kind, "app_server");
      return {
        resources: [
          appServer("grafana", "h1", { uri: "http://127.0.0.1:3000" }, { env: "dev" }, "Dashboards"),
          appServer("grafana", "h2", { uri: "http://127.0.0.1:3000" }, { env: "dev" }, "Dashboards"),
          appServer("redis", "h1", { uri: "tcp://127.0.0.1:6379", public_addr: "redis.example.com" }, { env: "dev", tier: "cache" }),
          appServer("admin", "h1", { uri: "https://10.0.0.1:8443" }),
        ].map((r) => toProto(r as unknown as StoredResource)),
      };
    },
  };
  return { auth: auth as unknown as AuthClient, issued };
}

describe("jsh apps: listing, login and the saved certificates", () => {
  let cas: TestCas;
  let home: string;
  const profile: Profile = { proxy: "proxy.example.com:3080", user: "alice", cluster: "unit.test", insecure: false };
  before(async () => {
    cas = await testCas();
    home = mkdtempSync(join(tmpdir(), "jsh-apps-"));
    const k = generateKeySet();
    const own = await appUserCert(cas.user, "", { publicKey: k.tls.publicKey, route: null });
    saveProfile(
      profile,
      {
        sshKey: k.ssh.privateKey,
        sshCert: "",
        tlsKey: k.tls.privateKey,
        tlsCert: own.cert,
        hostCaCerts: [cas.host.certPem],
        userCaCerts: [cas.user.certPem],
        knownHosts: [],
      },
      k.sshPublicKey,
      home,
    );
  });
  after(() => rmSync(home, { recursive: true, force: true }));

  test("ls: one row per app, its type from the uri, public address defaulting to NAME.<proxy host>", async () => {
    const rows = await listApps(fakeAuth(cas).auth, "proxy.example.com:3080");
    assert.deepEqual(rows, [
      { name: "admin", description: "", type: "http", publicAddr: "admin.proxy.example.com", labels: {} },
      { name: "grafana", description: "Dashboards", type: "http", publicAddr: "grafana.proxy.example.com", labels: { env: "dev" } },
      { name: "redis", description: "", type: "tcp", publicAddr: "redis.example.com", labels: { env: "dev", tier: "cache" } },
    ]);
    assert.deepEqual(appsFromServers([], "p:1"), []);
  });

  test("login asks for a route to the app with a new key, and saves key and certificate 0600 beside the db ones", async () => {
    const { auth, issued } = fakeAuth(cas);
    const c = await appLogin(auth, profile, { name: "grafana", ttlSeconds: 600 }, home);
    assert.deepEqual(issued, [{ name: "grafana", ttl: 600n }]);
    assert.equal(c.route.name, "grafana");
    assert.equal(c.route.publicAddr, "grafana.proxy.example.com");
    const paths = appCertPaths(profile, "grafana", home);
    assert.equal(paths.cert, join(home, "keys", "proxy.example.com_3080", "alice-app", "unit.test", "grafana.crt"));
    assert.equal(paths.ca, join(home, "keys", "proxy.example.com_3080", "cas", "unit.test.pem"));
    assert.equal(statSync(paths.key).mode & 0o777, 0o600);
    assert.equal(statSync(paths.cert).mode & 0o777, 0o600);
    // The certificate is for the new key, not the profile's.
    assert.equal(createPublicKey(c.key).export({ format: "pem", type: "spki" }), createPublicKey(c.cert).export({ format: "pem", type: "spki" }));
    assert.deepEqual(loadAppCert(profile, "grafana", new Date(), home).cas, [cas.host.certPem.trim()]);

    await appLogin(auth, profile, { name: "redis" }, home);
    assert.deepEqual(listAppCerts(profile, home), ["grafana", "redis"]);
    assert.deepEqual(removeAppCerts(profile, "redis", home), ["redis"]);
    assert.equal(findAppCert(profile, "redis", home), undefined);
    assert.deepEqual(removeAppCerts(profile, undefined, home), ["grafana"]);
    assert.deepEqual(listAppCerts(profile, home), []);
  });

  test("Auth's refusal is the error; a certificate without the route is not kept", async () => {
    await assert.rejects(
      appLogin(fakeAuth(cas, { refuse: 'access to app "prod" denied' }).auth, profile, { name: "prod" }, home),
      /access to app "prod" denied/,
    );
    assert.equal(existsSync(appCertPaths(profile, "prod", home).cert), false);
    await assert.rejects(appLogin(fakeAuth(cas, { noRoute: true }).auth, profile, { name: "grafana" }, home), /carries no route to it/);
    assert.equal(existsSync(appCertPaths(profile, "grafana", home).cert), false);
  });

  test("loadAppCert says what to run when the certificate is missing or expired", async () => {
    assert.throws(() => loadAppCert(profile, "grafana", new Date(), home), /not logged in to app "grafana"; run: jsh apps login grafana/);
    await appLogin(fakeAuth(cas).auth, profile, { name: "grafana" }, home);
    assert.throws(() => loadAppCert(profile, "grafana", new Date(Date.now() + 2 * 3600_000), home), /has expired; run: jsh apps login grafana/);
    removeAppCerts(profile, undefined, home);
  });
});
