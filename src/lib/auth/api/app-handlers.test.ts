import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { fromProto, toProto } from "../../../api/convert.ts";
import { isJumpgateError } from "../../../api/errors.ts";
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

const app = (name: string, labels: Record<string, string>) => ({
  kind: "app",
  version: "v3",
  metadata: { name, labels },
  spec: { uri: "http://127.0.0.1:3000" },
});
const appServer = (name: string, hostId: string, labels: Record<string, string>) => ({
  kind: "app_server",
  version: "v3",
  metadata: { name: `${name}@${hostId}` },
  spec: { host_id: hostId, hostname: hostId, version: "test", app: app(name, labels) },
});

describe("apps in the Auth API", () => {
  let f: Fixture;
  let api: Api;
  const heartbeat = (name: string, host: string, labels: Record<string, string>) => ({
    resource: toProto(validateResource(appServer(name, host, labels))),
    overwrite: true,
  });
  before(async () => {
    f = await authFixture({ secondFactor: "off" }, new Date());
    api = await startTestApi(f.server);
    const role = (name: string, spec: unknown) => f.ctx.stores.roles.upsert(validateResource({ kind: "role", version: "v7", metadata: { name }, spec }));
    await role("dev-apps", { allow: { app_labels: { env: "dev" } } });
    await role("no-secret", { deny: { app_labels: { tier: "secret" } } });
    await f.addUser("dana", ["dev-apps", "no-secret"]);
    await f.addUser("nora", ["access"]);
    const svc = await api.asHost("app", "app-host-1");
    await svc.upsertResource(heartbeat("grafana", "app-host-1", { env: "dev" }));
    await svc.upsertResource(heartbeat("jenkins", "app-host-1", { env: "prod" }));
    await svc.upsertResource(heartbeat("vault", "app-host-1", { env: "dev", tier: "secret" }));
  });
  after(async () => {
    await api?.close();
    await f?.close();
  });

  test("an Application Service writes only its own entries, quietly, and removes only its own", async () => {
    const svc = await api.asHost("app", "app-host-2");
    await svc.upsertResource(heartbeat("grafana", "app-host-2", { env: "dev" }));
    await refused(svc.upsertResource(heartbeat("grafana", "app-host-1", { env: "dev" })), "access-denied", /may only register its own apps/);
    assert.equal((await f.auditEvents("app_server.created")).length, 0);
    await svc.deleteResource({ kind: "app_server", name: "grafana@app-host-2" });
    await refused(svc.deleteResource({ kind: "app_server", name: "grafana@app-host-1" }), "access-denied", /may not delete app_server/);
  });

  test("other agents may not announce apps", async () => {
    for (const role of ["node", "db"]) {
      const host = await api.asHost(role, "other-host");
      await refused(host.upsertResource(heartbeat("grafana", "other-host", { env: "dev" })), "access-denied", /may not update app_server/);
    }
  });

  test("users list the entries their app_labels match; admins and the access preset see all", async () => {
    const dana = await api.asUser("dana");
    const names = (await dana.listResources({ kind: "app_server" })).resources.map((r) => (fromProto(r).metadata as { name: string }).name);
    assert.deepEqual(names, ["grafana@app-host-1"]);
    const nora = await api.asUser("nora");
    assert.equal((await nora.listResources({ kind: "app_servers" })).resources.length, 3);
    const admin = await api.asHost("admin");
    assert.equal((await admin.listResources({ kind: "app_server" })).resources.length, 3);
  });

  test("jctl create -f app.yaml registers an app resource, audited as app.create", async () => {
    const admin = await api.asHost("admin");
    await admin.upsertResource({ resource: toProto(validateResource(app("wiki", { env: "dev" }))), overwrite: false });
    assert.equal((await f.auditEvents("app.create")).length, 1);
    assert.equal((await admin.getResource({ kind: "apps", name: "wiki" })).kind, "app");
    const dana = await api.asUser("dana");
    await refused(
      dana.upsertResource({ resource: toProto(validateResource(app("mine", { env: "dev" }))), overwrite: false }),
      "access-denied",
      /may not create app/,
    );
  });
});
