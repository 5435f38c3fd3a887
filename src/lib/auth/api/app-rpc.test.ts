import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { toProto } from "../../../api/convert.ts";
import { isJumpgateError } from "../../../api/errors.ts";
import { decodeIdentity, generateKeySet, verifyAppToken } from "../../crypto/index.ts";
import { jwtCaJwks } from "../appjwt.ts";
import { startTestApi } from "../testing/api.ts";
import { authFixture } from "../testing/fixture.ts";
import { validateResource } from "../validate.ts";

type Fixture = Awaited<ReturnType<typeof authFixture>>;
type Api = Awaited<ReturnType<typeof startTestApi>>;

const refused = async (p: Promise<unknown>, kind: string, re: RegExp) => {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isJumpgateError(e), String(e));
    assert.equal(e.kind, kind, e.message);
    assert.match(e.message, re);
    return true;
  });
};

const appServer = (name: string, labels: Record<string, string>, extra: Record<string, unknown> = {}) =>
  toProto(
    validateResource({
      kind: "app_server",
      version: "v3",
      metadata: { name: `${name}@app-host` },
      spec: {
        host_id: "app-host",
        hostname: "app-host",
        version: "test",
        app: { kind: "app", version: "v3", metadata: { name, labels }, spec: { uri: "http://127.0.0.1:3000", ...extra } },
      },
    }),
  );

describe("app sessions and app tokens in the Auth API", () => {
  let f: Fixture;
  let api: Api;
  before(async () => {
    f = await authFixture({ secondFactor: "off" }, new Date());
    api = await startTestApi(f.server);
    const role = (name: string, spec: unknown) => f.ctx.stores.roles.upsert(validateResource({ kind: "role", version: "v7", metadata: { name }, spec }));
    await role("dev-apps", { allow: { app_labels: { env: "dev" } } });
    await role("no-secret", { deny: { app_labels: { tier: "secret" } } });
    await f.addUser("dana", ["dev-apps", "no-secret"], { logins: ["dana"] });
    const svc = await api.asHost("app", "app-host");
    for (const [name, labels, extra] of [
      ["grafana", { env: "dev" }, {}],
      ["jenkins", { env: "prod" }, {}],
      ["vault", { env: "dev", tier: "secret" }, {}],
      ["wiki", { env: "dev" }, { public_addr: "wiki.example.com" }],
    ] as const) {
      await svc.upsertResource({ resource: appServer(name, labels, extra), overwrite: true });
    }
  });
  after(async () => {
    await api?.close();
    await f?.close();
  });

  test("jsh apps login: a certificate routes to an allowed app with a new session id; others are refused with the reason", async () => {
    const dana = await api.asUser("dana");
    const k = generateKeySet();
    const certs = await dana.generateUserCerts({ sshPublicKey: k.sshPublicKey, tlsPublicKey: k.tlsPublicKey, routeToApp: { name: "grafana" } });
    const route = decodeIdentity(certs.tlsCert).routeToApp;
    assert.equal(route?.name, "grafana");
    assert.equal(route?.publicAddr, `grafana.${f.ctx.config.publicProxyAddr.replace(/:\d+$/, "")}`);
    assert.match(route?.sessionId ?? "", /^[0-9a-f-]{36}$/);
    const again = await dana.generateUserCerts({ sshPublicKey: k.sshPublicKey, tlsPublicKey: k.tlsPublicKey, routeToApp: { name: "wiki" } });
    assert.equal(decodeIdentity(again.tlsCert).routeToApp?.publicAddr, "wiki.example.com");
    await refused(dana.generateUserCerts({ ...k, routeToApp: { name: "jenkins" } }), "access-denied", /access to app jenkins denied/);
    await refused(dana.generateUserCerts({ ...k, routeToApp: { name: "vault" } }), "access-denied", /access to app vault denied/);
    await refused(dana.generateUserCerts({ ...k, routeToApp: { name: "nope" } }), "not-found", /app nope is not served/);
  });

  test("browser app sessions: launch token once, then a cookie bound to the app; refusals are audited", async () => {
    const dana = await api.asUser("dana");
    const proxy = await api.asHost("proxy", "proxy-host");
    const opened = await dana.createAppSession({ appName: "grafana" });
    assert.equal(opened.appName, "grafana");
    assert.equal(opened.cookie, "");
    assert.equal(opened.tlsCert, "", "the certificate stays in Auth until the exchange");
    assert.ok(opened.launchToken.length >= 40);

    await refused(dana.authenticateAppSession({ launchToken: opened.launchToken }), "access-denied", /only the proxy/);
    const exchanged = await proxy.authenticateAppSession({ launchToken: opened.launchToken });
    assert.ok(exchanged.cookie.length >= 40);
    assert.equal(exchanged.id, opened.id);
    const id = decodeIdentity(exchanged.tlsCert);
    assert.equal(id.username, "dana");
    assert.equal(id.routeToApp?.name, "grafana");
    assert.equal(id.routeToApp?.sessionId, opened.id);
    await refused(proxy.authenticateAppSession({ launchToken: opened.launchToken }), "unauthenticated", /expired or was used already/);

    const resolved = await proxy.authenticateAppSession({ cookie: exchanged.cookie });
    assert.equal(resolved.user, "dana");
    assert.equal(resolved.appName, "grafana");
    assert.equal(resolved.cookie, "", "the cookie is returned once");
    await refused(proxy.authenticateAppSession({ cookie: "forged" }), "unauthenticated", /app session has ended/);
    await refused(proxy.authenticateAppSession({ cookie: "a", launchToken: "b" }), "bad-parameter", /either/);

    await refused(dana.createAppSession({ appName: "jenkins" }), "access-denied", /access to app jenkins denied/);
    const denials = await f.auditEvents("app.session.start");
    assert.ok(denials.some((e) => e.success === false && e.app_name === "jenkins" && e.user === "dana" && String(e.error).includes("denied")));
    assert.equal((await f.auditEvents("auth")).filter((e) => e.method === "CreateAppSession").length, 0, "one event per refusal");

    await proxy.deleteAppSession({ cookie: exchanged.cookie });
    await refused(proxy.authenticateAppSession({ cookie: exchanged.cookie }), "unauthenticated", /ended/);
  });

  test("app tokens: only Application Services get them, signed for the app's URI", async () => {
    const svc = await api.asHost("app", "app-host");
    const r = await svc.generateAppToken({ username: "dana", roles: ["dev-apps"], traits: { logins: { values: ["dana"] } }, uri: "http://127.0.0.1:3000" });
    const claims = await verifyAppToken(r.token, jwtCaJwks(f.ctx), { issuer: f.ctx.config.clusterName, audience: "http://127.0.0.1:3000", clock: f.clock });
    assert.equal(claims.username, "dana");
    assert.deepEqual(claims.traits, { logins: ["dana"] });
    assert.ok(new Date(r.expires).getTime() - f.clock.now().getTime() <= 5 * 60_000);
    for (const c of [await api.asUser("dana"), await api.asHost("proxy", "p"), await api.asHost("node", "n")]) {
      await refused(c.generateAppToken({ username: "dana", roles: [], traits: {}, uri: "http://x" }), "access-denied", /only an Application Service/);
    }
    await refused(svc.generateAppToken({ username: "", roles: [], traits: {}, uri: "http://x" }), "bad-parameter", /user/);
  });
  test("an app session ends with its certificate, and a lock ends it at once", async () => {
    const dana = await api.asUser("dana", f.ctx, 10 * 60_000);
    const proxy = await api.asHost("proxy", "proxy-host");
    const open = async () => (await proxy.authenticateAppSession({ launchToken: (await dana.createAppSession({ appName: "grafana" })).launchToken })).cookie;
    const cookie = await open();
    const exp = new Date((await proxy.authenticateAppSession({ cookie })).expires).getTime();
    assert.ok(exp <= f.clock.now().getTime() + 10 * 60_000 + 1000, "never outlives the web session's certificate");

    const second = await open();
    await f.ctx.stores.locks.upsert(
      validateResource({ kind: "lock", version: "v2", metadata: { name: "l1" }, spec: { target: { user: "dana" }, message: "incident 7" } }),
    );
    await refused(proxy.authenticateAppSession({ cookie: second }), "unauthenticated", /incident 7/);
    await f.ctx.stores.locks.delete("l1");

    f.clock.advance(11 * 60_000);
    await refused(proxy.authenticateAppSession({ cookie }), "unauthenticated", /ended/);
  });
});
