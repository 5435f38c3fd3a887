import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { once } from "node:events";
import net, { type AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import tls from "node:tls";
import { appSni } from "../../../api/appwire.ts";
import { systemClock } from "../../../api/clock.ts";
import { type CertificateAuthority, createCa, type Identity, issueClientCertificate, issueServerCertificate } from "../../crypto/index.ts";
import { testLog } from "../proxy.test-helpers.ts";
import { type FakeAgent, fakeAgent } from "./appproxy.test-helpers.ts";
import { AppTlsRoute } from "./cli.ts";
import type { AppRefusal } from "./dialer.ts";

describe("jsh proxy app route (jumpgate-app)", () => {
  let userCa: CertificateAuthority;
  let foreignCa: CertificateAuthority;
  let agent: FakeAgent;
  let server: net.Server;
  let port = 0;
  const refusals: AppRefusal[] = [];
  const locked = new Set<string>();

  const userCert = async (ca: CertificateAuthority, o: { app?: string; user?: string; issuedAgoMs?: number; ttlMs?: number; kind?: "host" } = {}) => {
    const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const identity: Identity = {
      kind: o.kind ?? "user",
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
      ...(o.kind === "host" ? { hostId: o.user ?? "alice", systemRoles: ["app"] } : {}),
      ...(o.app === undefined ? {} : { routeToApp: { name: o.app, publicAddr: `${o.app}.localhost`, clusterName: "test", sessionId: "sid" } }),
    };
    const issued = o.issuedAgoMs ? { now: () => new Date(Date.now() - (o.issuedAgoMs ?? 0)) } : systemClock;
    const cert = await issueClientCertificate({ caCert: ca.certPem, caKey: ca.privateKey, publicKey, identity, ttlMs: o.ttlMs ?? 3600_000, clock: issued });
    return { cert, key: privateKey.export({ format: "pem", type: "pkcs8" }).toString() };
  };

  /** Connects with `creds`, sends "ping", resolves with what came back before the close. */
  const exchange = async (creds: { cert: string; key: string } | undefined, sni: string): Promise<string> => {
    const s = tls.connect({ host: "127.0.0.1", port, servername: sni, rejectUnauthorized: false, ...(creds ?? {}) });
    let got = "";
    s.on("data", (c: Buffer) => {
      got += c.toString();
      if (got === "ping") s.end();
    });
    s.on("error", () => undefined);
    await once(s, "secureConnect");
    s.write("ping");
    await once(s, "close");
    return got;
  };

  const refusedWith = async (creds: { cert: string; key: string } | undefined, sni: string, reason: RegExp) => {
    const n = refusals.length;
    const got = await exchange(creds, sni);
    assert.equal(got, "", "nothing was relayed");
    for (let i = 0; i < 50 && refusals.length === n; i++) await new Promise((r) => setTimeout(r, 20));
    const r = refusals.at(-1);
    assert.ok(r && refusals.length === n + 1, "the refusal was reported");
    assert.match(r.reason, reason);
    assert.match(r.clientAddr, /^127\.0\.0\.1:\d+$/);
    return r;
  };

  before(async () => {
    userCa = await createCa({ commonName: "test", organization: "user", clock: systemClock });
    foreignCa = await createCa({ commonName: "other", organization: "user", clock: systemClock });
    const hostCa = await createCa({ commonName: "test", organization: "host", clock: systemClock });
    const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const serverTls = {
      cert: await issueServerCertificate({
        caCert: hostCa.certPem,
        caKey: hostCa.privateKey,
        publicKey,
        commonName: "proxy",
        dnsNames: ["localhost"],
        ipAddresses: [],
        ttlMs: 3600_000,
        clock: systemClock,
      }),
      key: privateKey.export({ format: "pem", type: "pkcs8" }).toString(),
    };
    agent = await fakeAgent("echo");
    agent.serving.set("grafana", [{ hostId: "h1", app: "grafana" }]);
    const route = new AppTlsRoute({
      userCas: () => [userCa.certPem],
      serverTls: () => serverTls,
      routes: agent.routes,
      lockedBy: async (who) => (locked.has(who.user) ? `user ${who.user} is locked: investigation` : undefined),
      onRefused: (r) => refusals.push(r),
      clock: systemClock,
      log: testLog(),
    });
    server = net.createServer((s) => route.handleAlpn(s, { remoteAddr: `${s.remoteAddress}:${s.remotePort}` }));
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    port = (server.address() as AddressInfo).port;
  });
  after(() => {
    agent.close();
    server.close();
  });

  test("a certificate for the app: the stream to the service starts with its chain, then bytes relay both ways", async () => {
    const creds = await userCert(userCa, { app: "grafana" });
    assert.equal(await exchange(creds, appSni("grafana")), "ping");
    const h = agent.headers.at(-1);
    assert.equal(h?.app, "grafana");
    assert.equal(h?.publicAddr, "");
    assert.match(h?.clientAddr ?? "", /^127\.0\.0\.1:\d+$/);
    assert.equal(h?.cert.replace(/\s/g, ""), creds.cert.replace(/\s/g, ""), "the leaf, PEM; the self-signed CA is left out");
    // Without an inner SNI, the certificate's route decides.
    assert.equal(await exchange(creds, ""), "ping");
  });

  test("refusals: foreign CA, expired, no route, another app's SNI, a host certificate, a lock, no service", async () => {
    await refusedWith(await userCert(foreignCa, { app: "grafana" }), appSni("grafana"), /^client certificate refused/);
    await refusedWith(undefined, appSni("grafana"), /^no client certificate/);
    const expired = await refusedWith(
      await userCert(userCa, { app: "grafana", issuedAgoMs: 2 * 3600_000, ttlMs: 3600_000 }),
      appSni("grafana"),
      /^client certificate refused: .*expired/,
    );
    assert.equal(expired.user, undefined);
    const noRoute = await refusedWith(await userCert(userCa), appSni("wiki"), /^this certificate is not for an app: run jsh apps login wiki$/);
    assert.deepEqual([noRoute.user, noRoute.app], ["alice", "wiki"]);
    const other = await refusedWith(await userCert(userCa, { app: "grafana" }), appSni("wiki"), /^this certificate is for app grafana, not wiki/);
    assert.equal(other.app, "wiki");
    await refusedWith(await userCert(userCa, { app: "grafana", kind: "host", user: "h-1" }), appSni("grafana"), /not for an app/);
    locked.add("mallory");
    const lock = await refusedWith(await userCert(userCa, { app: "grafana", user: "mallory" }), appSni("grafana"), /^user mallory is locked: investigation$/);
    assert.deepEqual([lock.user, lock.app], ["mallory", "grafana"]);
    const none = await refusedWith(await userCert(userCa, { app: "gone" }), appSni("gone"), /^app gone is not available: no Application Service serves it$/);
    assert.equal(none.app, "gone");
  });
});
