import assert from "node:assert/strict";
import { createPublicKey } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parse } from "yaml";
import type { AuthClient } from "../../api/authclient.ts";
import { FakeClock } from "../../api/clock.ts";
import { toProto } from "../../api/convert.ts";
import type { StoredResource } from "../../api/resource.ts";
import { parseResourceOf } from "../../api/resources/index.ts";
import { decodeIdentity, generateKeySet, issueClientCertificate } from "../crypto/index.ts";
import { appUserCert, type TestCas, testCas } from "./app.test-helpers.ts";
import { kubeCertPaths, kubeLogin, kubeLogout, listKubeCerts, listKubeClusters, selectedKubeCluster } from "./kubecerts.ts";
import { type Profile, saveProfile } from "./profile.ts";

const kubeServer = (cluster: string, host: string, labels: Record<string, string> = {}) =>
  parseResourceOf("kube_server", {
    kind: "kube_server",
    version: "v3",
    metadata: { name: `${cluster}@${host}` },
    spec: { host_id: host, hostname: host, cluster: { kind: "kube_cluster", version: "v3", metadata: { name: cluster, labels } } },
  });

/** An Auth client that issues Kubernetes certificates itself (the real Auth side is tested in lib/auth). */
function fakeAuth(cas: TestCas, o: { refuse?: string } = {}) {
  const asked: { kubernetesCluster: string; sshPublicKey: string }[] = [];
  const auth = {
    async generateUserCerts(req: { tlsPublicKey: string; sshPublicKey: string; kubernetesCluster: string }) {
      asked.push({ kubernetesCluster: req.kubernetesCluster, sshPublicKey: req.sshPublicKey });
      if (o.refuse) throw new Error(o.refuse);
      const tlsCert = await issueClientCertificate({
        caCert: cas.user.certPem,
        caKey: cas.user.privateKey,
        publicKey: createPublicKey(req.tlsPublicKey),
        identity: {
          kind: "user",
          username: "alice",
          roles: ["kube-dev"],
          logins: [],
          traits: {},
          kubernetesGroups: [],
          kubernetesUsers: [],
          activeRequests: [],
          expires: new Date(0),
          systemRoles: [],
          clusterName: "unit.test",
          kubernetesCluster: req.kubernetesCluster,
        },
        ttlMs: 3600_000,
        clock: new FakeClock(new Date()),
      });
      return { tlsCert, sshCert: "", hostCaCerts: [cas.host.certPem], tlsCaCerts: [cas.user.certPem] };
    },
    async listResources(req: { kind: string }) {
      assert.equal(req.kind, "kube_server");
      return {
        resources: [
          kubeServer("prod", "h1", { env: "prod" }),
          kubeServer("dev", "h1", { env: "dev", team: "web" }),
          kubeServer("dev", "h2", { env: "dev", team: "web" }),
        ].map((r) => toProto(r as unknown as StoredResource)),
      };
    },
  };
  return { auth: auth as unknown as AuthClient, asked };
}

describe("jsh kube: listing, login into the kubeconfig, logout", () => {
  let cas: TestCas;
  let home: string;
  let kubeconfig: string;
  const profile: Profile = { proxy: "127.0.0.1:3080", user: "alice", cluster: "unit.test", insecure: true };
  before(async () => {
    cas = await testCas();
    home = mkdtempSync(join(tmpdir(), "jsh-kube-"));
    kubeconfig = join(home, "dot-kube", "config");
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

  test("ls: one row per cluster however many services serve it, with its labels, sorted", async () => {
    assert.deepEqual(await listKubeClusters(fakeAuth(cas).auth), [
      { name: "dev", labels: { env: "dev", team: "web" } },
      { name: "prod", labels: { env: "prod" } },
    ]);
  });

  test("login: a certificate naming the cluster in the profile, and a kubeconfig context pinning the host CA, made current", async () => {
    const { auth, asked } = fakeAuth(cas);
    const r = await kubeLogin(auth, profile, { cluster: "dev", proxyPublicAddr: "localhost:3080", kubeconfig }, home);
    assert.equal(asked[0]?.kubernetesCluster, "dev");
    assert.match(asked[0]?.sshPublicKey ?? "", /^ssh-ed25519 /);
    assert.equal(r.context, "unit.test-dev");
    assert.deepEqual(r.paths, kubeCertPaths(profile, "dev", home));
    assert.match(r.paths.cert, /keys\/127\.0\.0\.1_3080\/alice-kube\/unit\.test\/dev\.crt$/);
    assert.equal(decodeIdentity(readFileSync(r.paths.cert, "utf8")).kubernetesCluster, "dev");
    for (const f of [r.paths.cert, r.paths.key, kubeconfig]) assert.equal(statSync(f).mode & 0o777, 0o600, f);
    assert.equal(statSync(join(home, "dot-kube")).mode & 0o777, 0o700);
    assert.deepEqual(parse(readFileSync(kubeconfig, "utf8")), {
      apiVersion: "v1",
      clusters: [
        {
          name: "unit.test-dev",
          cluster: {
            server: "https://127.0.0.1:3080",
            "tls-server-name": "kube.localhost",
            "certificate-authority-data": Buffer.from(cas.host.certPem.endsWith("\n") ? cas.host.certPem : `${cas.host.certPem}\n`).toString("base64"),
          },
        },
      ],
      contexts: [{ name: "unit.test-dev", context: { cluster: "unit.test-dev", user: "unit.test-dev" } }],
      "current-context": "unit.test-dev",
      kind: "Config",
      preferences: {},
      users: [{ name: "unit.test-dev", user: { "client-certificate": r.paths.cert, "client-key": r.paths.key } }],
    });
    assert.equal(selectedKubeCluster(profile, ["dev", "prod"], kubeconfig), "dev");
    assert.equal(selectedKubeCluster({ cluster: "other" }, ["dev"], kubeconfig), undefined);
    // Again: a new certificate, the same kubeconfig.
    const before = readFileSync(kubeconfig, "utf8");
    const cert = readFileSync(r.paths.cert, "utf8");
    await kubeLogin(auth, profile, { cluster: "dev", proxyPublicAddr: "localhost:3080", kubeconfig }, home);
    assert.equal(readFileSync(kubeconfig, "utf8"), before);
    assert.notEqual(readFileSync(r.paths.cert, "utf8"), cert);
  });

  test("a refusal from Auth is the error, and nothing is written", async () => {
    const before = readFileSync(kubeconfig, "utf8");
    const { auth } = fakeAuth(cas, { refuse: "access to Kubernetes cluster secret denied: no role allows it" });
    await assert.rejects(
      kubeLogin(auth, profile, { cluster: "secret", proxyPublicAddr: "localhost:3080", kubeconfig }, home),
      /access to Kubernetes cluster secret denied/,
    );
    assert.equal(existsSync(kubeCertPaths(profile, "secret", home).cert), false);
    assert.equal(readFileSync(kubeconfig, "utf8"), before);
    await assert.rejects(kubeLogin(auth, profile, { cluster: "Bad_Name", proxyPublicAddr: "localhost:3080", kubeconfig }, home), /lowercase letters/);
  });

  test("logout: one cluster's files and entries, then all; other entries stay", async () => {
    const { auth } = fakeAuth(cas);
    await kubeLogin(auth, profile, { cluster: "prod", proxyPublicAddr: "localhost:3080", kubeconfig }, home);
    const text = readFileSync(kubeconfig, "utf8").replace("clusters:\n", "clusters:\n- cluster:\n    server: https://10.0.0.1:6443\n  name: kind\n");
    writeFileSync(kubeconfig, text);
    assert.deepEqual(listKubeCerts(profile, home), ["dev", "prod"]);
    assert.deepEqual(kubeLogout(profile, "prod", { kubeconfig }, home), ["prod"]);
    assert.equal(existsSync(kubeCertPaths(profile, "prod", home).cert), false);
    let d = parse(readFileSync(kubeconfig, "utf8"));
    assert.deepEqual(
      d.clusters.map((c: { name: string }) => c.name),
      ["kind", "unit.test-dev"],
    );
    assert.equal(d["current-context"], "", "prod was current");
    assert.deepEqual(kubeLogout(profile, "prod", { kubeconfig }, home), [], "already gone");
    assert.deepEqual(kubeLogout(profile, undefined, { kubeconfig }, home), ["dev"]);
    d = parse(readFileSync(kubeconfig, "utf8"));
    assert.deepEqual(
      d.clusters.map((c: { name: string }) => c.name),
      ["kind"],
    );
    assert.deepEqual(d.users, []);
    assert.equal(statSync(kubeconfig).mode & 0o777, 0o600);
    assert.deepEqual(listKubeCerts(profile, home), []);
  });
});
