import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { fromProto, toProto } from "../../../api/convert.ts";
import { isJumpgateError } from "../../../api/errors.ts";
import { decodeIdentity, generateKeySet } from "../../crypto/index.ts";
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

const cluster = (name: string, labels: Record<string, string>) => ({
  kind: "kube_cluster",
  version: "v3",
  metadata: { name, labels },
  spec: {},
});
const kubeServer = (name: string, hostId: string, labels: Record<string, string>) => ({
  kind: "kube_server",
  version: "v3",
  metadata: { name: `${name}@${hostId}` },
  spec: { host_id: hostId, hostname: hostId, version: "test", cluster: cluster(name, labels) },
});

describe("Kubernetes clusters in the Auth API", () => {
  let f: Fixture;
  let api: Api;
  const heartbeat = (name: string, host: string, labels: Record<string, string>) => ({
    resource: toProto(validateResource(kubeServer(name, host, labels))),
    overwrite: true,
  });
  before(async () => {
    f = await authFixture({ secondFactor: "off" }, new Date());
    api = await startTestApi(f.server);
    const role = (name: string, spec: unknown) => f.ctx.stores.roles.upsert(validateResource({ kind: "role", version: "v7", metadata: { name }, spec }));
    await role("dev-kube", { allow: { kubernetes_labels: { env: "dev" }, kubernetes_groups: ["developers"] } });
    await role("no-secret", { deny: { kubernetes_labels: { tier: "secret" } } });
    await role("labels-only", { allow: { kubernetes_labels: { "*": "*" } } });
    await f.addUser("dana", ["dev-kube", "no-secret"]);
    await f.addUser("nora", ["access"], { kubernetes_groups: ["viewers"] });
    await f.addUser("lena", ["labels-only"]);
    await f.addUser("owen", ["access"]);
    const svc = await api.asHost("kube", "kube-host-1");
    await svc.upsertResource(heartbeat("dev", "kube-host-1", { env: "dev" }));
    await svc.upsertResource(heartbeat("prod", "kube-host-1", { env: "prod" }));
    await svc.upsertResource(heartbeat("vault", "kube-host-1", { env: "dev", tier: "secret" }));
  });
  after(async () => {
    await api?.close();
    await f?.close();
  });

  test("a Kubernetes Service writes only its own entries, quietly, and removes only its own", async () => {
    const svc = await api.asHost("kube", "kube-host-2");
    await svc.upsertResource(heartbeat("dev", "kube-host-2", { env: "dev" }));
    await refused(svc.upsertResource(heartbeat("dev", "kube-host-1", { env: "dev" })), "access-denied", /may only register its own Kubernetes clusters/);
    assert.equal((await f.auditEvents("kube_server.created")).length, 0);
    await svc.deleteResource({ kind: "kube_server", name: "dev@kube-host-2" });
    await refused(svc.deleteResource({ kind: "kube_server", name: "dev@kube-host-1" }), "access-denied", /may not delete kube_server/);
    await refused(svc.deleteResource({ kind: "kube_cluster", name: "dev" }), "access-denied", /may not delete kube_cluster/);
  });

  test("other agents may not announce Kubernetes clusters", async () => {
    for (const role of ["node", "db", "app"]) {
      const host = await api.asHost(role, "other-host");
      await refused(host.upsertResource(heartbeat("dev", "other-host", { env: "dev" })), "access-denied", /may not update kube_server/);
    }
  });

  test("users list the entries their kubernetes_labels match (with a group or user there); admins and the access preset see all", async () => {
    const names = async (user: string, kind = "kube_server") =>
      (await (await api.asUser(user)).listResources({ kind })).resources.map((r) => (fromProto(r).metadata as { name: string }).name);
    assert.deepEqual(await names("dana"), ["dev@kube-host-1"]);
    // Labels match everywhere, but no kubernetes_groups or kubernetes_users: nothing usable.
    assert.deepEqual(await names("lena"), []);
    assert.equal((await names("nora", "kube_servers")).length, 3);
    // The access preset takes groups from the user's traits: without any, nothing.
    assert.deepEqual(await names("owen"), []);
    const admin = await api.asHost("admin");
    assert.equal((await admin.listResources({ kind: "kube_server" })).resources.length, 3);
  });

  test("jctl create -f kube_cluster.yaml registers a cluster, audited as kube.create / kube.delete", async () => {
    const admin = await api.asHost("admin");
    await admin.upsertResource({ resource: toProto(validateResource(cluster("staging", { env: "staging" }))), overwrite: false });
    assert.equal((await f.auditEvents("kube.create")).length, 1);
    assert.equal((await admin.getResource({ kind: "kube_clusters", name: "staging" })).kind, "kube_cluster");
    const dana = await api.asUser("dana");
    await refused(
      dana.upsertResource({ resource: toProto(validateResource(cluster("mine", { env: "dev" }))), overwrite: false }),
      "access-denied",
      /may not create kube_cluster/,
    );
    await admin.deleteResource({ kind: "kube_cluster", name: "staging" });
    assert.equal((await f.auditEvents("kube.delete")).length, 1);
  });

  test("jsh kube login: a certificate names a cluster the roles allow with a user or group; others are refused with the reason", async () => {
    const k = generateKeySet();
    const keys = { sshPublicKey: k.sshPublicKey, tlsPublicKey: k.tlsPublicKey };
    const dana = await api.asUser("dana");
    const c = await dana.generateUserCerts({ ...keys, kubernetesCluster: "dev" });
    assert.equal(decodeIdentity(c.tlsCert).kubernetesCluster, "dev");
    await assert.rejects(dana.generateUserCerts({ ...keys, kubernetesCluster: "prod" }), /access to Kubernetes cluster prod denied/);
    await assert.rejects(dana.generateUserCerts({ ...keys, kubernetesCluster: "vault" }), /access to Kubernetes cluster vault denied/);
    await assert.rejects(dana.generateUserCerts({ ...keys, kubernetesCluster: "nope" }), /cluster nope is not served/);
    const lena = await api.asUser("lena");
    await assert.rejects(lena.generateUserCerts({ ...keys, kubernetesCluster: "dev" }), /no kubernetes_groups or kubernetes_users/);
  });
});
