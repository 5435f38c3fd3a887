import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseResourceOf, type Role } from "../../../api/resources/index.ts";
import { HeaderList } from "../../httpfwd/index.ts";
import { applyImpersonation, authorizeKubeRequest, type KubeGrant, type KubeUser, kubeResourceTarget } from "./access.ts";
import { KubeAccessError } from "./errors.ts";
import { parseKubeRequestUrl } from "./request.ts";

const role = (name: string, spec: unknown, version = "v7"): Role => parseResourceOf("role", { kind: "role", version, metadata: { name }, spec });
const user = (roles: Role[], traits: Record<string, string[]> = {}, username = "alice"): KubeUser => ({ username, roles, traits });
const DEV = { name: "dev", labels: { env: "dev" } };

function decide(u: KubeUser, method: string, url: string, headers: Array<[string, string]> = [], cluster = DEV): KubeGrant {
  return authorizeKubeRequest({ user: u, cluster, request: parseKubeRequestUrl(method, url), headers: new HeaderList(headers) });
}
function refused(u: KubeUser, method: string, url: string, message: string | RegExp, headers: Array<[string, string]> = [], cluster = DEV): void {
  assert.throws(
    () => decide(u, method, url, headers, cluster),
    (e: unknown) => {
      assert.ok(e instanceof KubeAccessError, String(e));
      assert.deepEqual(
        { ...e.status, message: "" },
        { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message: "", reason: "Forbidden", code: 403 },
      );
      if (typeof message === "string") assert.equal(e.status.message, message);
      else assert.match(e.status.message, message);
      assert.doesNotMatch(e.status.message, /\n/);
      return true;
    },
  );
}

const devs = role("devs", {
  allow: {
    kubernetes_labels: { env: "dev" },
    kubernetes_groups: ["developers", "{{internal.kubernetes_groups}}"],
    kubernetes_users: ["{{internal.kubernetes_users}}"],
  },
});
const groupsOnly = role("viewers", { allow: { kubernetes_labels: { "*": "*" }, kubernetes_groups: ["viewers"] } });
const podsInDev = role("pods-in-dev", {
  allow: {
    kubernetes_labels: { env: "dev" },
    kubernetes_groups: ["developers"],
    kubernetes_resources: [
      { kind: "pod", namespace: "dev", name: "*", verbs: ["get", "list", "watch"] },
      { kind: "pod", namespace: "dev", name: "debug-*", verbs: ["exec"] },
      { kind: "namespace", name: "dev", verbs: ["get"] },
    ],
  },
});

describe("authorizeKubeRequest: the cluster and whom to impersonate", () => {
  test("kubernetes_labels must match; the checker's reason is in the one-line Status", () => {
    refused(
      user([devs]),
      "GET",
      "/api/v1/pods",
      `Jumpgate: access to Kubernetes cluster "prod" denied for user "alice": no role's kubernetes_labels match this Kubernetes cluster (env=prod)`,
      [],
      {
        name: "prod",
        labels: { env: "prod" },
      },
    );
    refused(user([]), "GET", "/version", /denied for user "alice": no roles assigned/);
  });

  test("one kubernetes_user (from traits) is impersonated, with every group plus system:authenticated", () => {
    const g = decide(user([devs], { kubernetes_users: ["alice@corp"], kubernetes_groups: ["oncall"] }), "GET", "/api/v1/namespaces/dev/pods");
    assert.equal(g.user, "alice@corp");
    assert.deepEqual(g.groups, ["developers", "oncall", "system:authenticated"]);
    assert.deepEqual(g.kubeUsers, ["alice@corp"]);
    assert.deepEqual(g.kubeGroups, ["developers", "oncall"]);
  });

  test("no kubernetes_users: the Jumpgate user name, as Teleport does", () => {
    const g = decide(user([groupsOnly]), "GET", "/api");
    assert.equal(g.user, "alice");
    assert.deepEqual(g.groups, ["viewers", "system:authenticated"]);
    assert.equal(g.resource, undefined);
  });

  test("several kubernetes_users: the client picks one with Impersonate-User (kubectl --as), among them only", () => {
    const u = user([devs], { kubernetes_users: ["alice", "admin"] });
    refused(
      u,
      "GET",
      "/api/v1/namespaces/dev/pods",
      `Jumpgate: your roles allow several kubernetes_users in Kubernetes cluster "dev" (admin, alice): pick one with kubectl --as=USER`,
    );
    assert.equal(decide(u, "GET", "/api/v1/namespaces/dev/pods", [["Impersonate-User", "admin"]]).user, "admin");
    refused(
      u,
      "GET",
      "/api/v1/namespaces/dev/pods",
      `Jumpgate: user "alice" may not impersonate Kubernetes user "system:admin" in Kubernetes cluster "dev"; allowed: admin, alice`,
      [["Impersonate-User", "system:admin"]],
    );
    refused(u, "GET", "/version", /only one Impersonate-User/, [
      ["Impersonate-User", "admin"],
      ["Impersonate-User", "alice"],
    ]);
    // Without kubernetes_users the only name one may ask for is one's own.
    assert.equal(decide(user([groupsOnly]), "GET", "/api", [["Impersonate-User", "alice"]]).user, "alice");
    refused(user([groupsOnly]), "GET", "/api", /may not impersonate Kubernetes user "root"/, [["Impersonate-User", "root"]]);
  });

  test("Impersonate-Group (kubectl --as-group) narrows the groups to allowed ones", () => {
    const u = user([devs], { kubernetes_users: ["alice"], kubernetes_groups: ["oncall"] });
    assert.deepEqual(decide(u, "GET", "/api", [["Impersonate-Group", "oncall"]]).groups, ["oncall", "system:authenticated"]);
    refused(
      u,
      "GET",
      "/api",
      `Jumpgate: user "alice" may not impersonate Kubernetes group "system:masters" in Kubernetes cluster "dev"; allowed: developers, oncall`,
      [
        ["Impersonate-Group", "oncall"],
        ["Impersonate-Group", "system:masters"],
      ],
    );
  });
});

describe("authorizeKubeRequest: kubernetes_resources", () => {
  const u = user([podsInDev]);
  const ok = (method: string, url: string) => assert.doesNotThrow(() => decide(u, method, url), `${method} ${url}`);

  test("allowed: what the role names, in its namespace", () => {
    ok("GET", "/api/v1/namespaces/dev/pods");
    ok("GET", "/api/v1/namespaces/dev/pods?watch=true");
    ok("GET", "/api/v1/namespaces/dev/pods/web");
    ok("GET", "/api/v1/namespaces/dev/pods/web/log");
    ok("POST", "/api/v1/namespaces/dev/pods/debug-1/exec?command=sh");
    ok("GET", "/api/v1/namespaces/dev/pods/debug-1/attach");
    ok("GET", "/api/v1/namespaces/dev");
    // Discovery and /version need only access to the cluster.
    ok("GET", "/apis");
    ok("GET", "/version");
  });

  test("refused: other namespaces, other kinds, other verbs, all namespaces", () => {
    refused(
      u,
      "GET",
      "/api/v1/namespaces/prod/pods/web",
      `Jumpgate: user "alice" may not get pods "web" in namespace "prod" in Kubernetes cluster "dev": no role allows get on pod prod/web`,
    );
    refused(u, "GET", "/api/v1/pods", `Jumpgate: user "alice" may not list pods in all namespaces in Kubernetes cluster "dev": no role allows list on pod */*`);
    refused(u, "GET", "/api/v1/namespaces/dev/secrets", /may not list secrets in namespace "dev" .*no role allows list on secret dev\/\*/);
    refused(u, "DELETE", "/api/v1/namespaces/dev/pods/web", /may not delete pods "web" in namespace "dev"/);
    refused(u, "DELETE", "/api/v1/namespaces/dev/pods", /may not deletecollection pods in namespace "dev"/);
    refused(u, "POST", "/api/v1/namespaces/dev/pods", /may not create pods in namespace "dev"/);
    refused(
      u,
      "POST",
      "/api/v1/namespaces/dev/pods/web/exec?command=sh",
      /may not create pods\/exec "web" in namespace "dev" .*no role allows exec on pod dev\/web/,
    );
    refused(u, "POST", "/api/v1/namespaces/dev/pods/web/portforward", /no role allows portforward on pod dev\/web/);
    refused(u, "GET", "/api/v1/namespaces/prod", /may not get namespaces "prod" .*no role allows get on namespace prod/);
    refused(u, "GET", "/apis/apps/v1/namespaces/dev/deployments", /no role allows list on deployment dev\/\*/);
    // Resources Teleport's v7 kinds do not name are checked by plural name (only kind "*" covers them).
    refused(u, "GET", "/api/v1/namespaces/dev/events", /no role allows list on events dev\/\*/);
    refused(u, "GET", "/apis/stable.example.com/v1/namespaces/dev/crontabs/x", /no role allows get on crontabs\.stable\.example\.com dev\/x/);
  });

  test("the v7 default (kind *) allows everything, deny entries still apply", () => {
    const all = user([role("all", { allow: { kubernetes_labels: { "*": "*" }, kubernetes_groups: ["g"] } })]);
    for (const url of [
      "/api/v1/pods",
      "/apis/apps/v1/deployments",
      "/api/v1/nodes/n1",
      "/apis/stable.example.com/v1/crontabs",
      "/api/v1/namespaces/kube-system/secrets/token",
    ]) {
      assert.doesNotThrow(() => decide(all, "GET", url), url);
    }
    const noSecrets = user([
      ...all.roles,
      role("no-db-secret", { deny: { kubernetes_resources: [{ kind: "secret", namespace: "kube-system", name: "db-*", verbs: ["*"] }] } }),
    ]);
    refused(
      noSecrets,
      "GET",
      "/api/v1/namespaces/kube-system/secrets/db-password",
      /denied by role "no-db-secret": get on secret kube-system\/db-password is denied/,
    );
    assert.doesNotThrow(() => decide(noSecrets, "GET", "/api/v1/namespaces/kube-system/secrets/token"));
    assert.doesNotThrow(() => decide(noSecrets, "GET", "/api/v1/namespaces/dev/secrets"));
    // A list that would include a denied object is refused whole.
    refused(
      noSecrets,
      "GET",
      "/api/v1/namespaces/kube-system/secrets",
      `Jumpgate: user "alice" may not list secrets in namespace "kube-system" in Kubernetes cluster "dev": denied by role "no-db-secret": it denies list on secret kube-system/db-*, which this request would include`,
    );
    refused(noSecrets, "GET", "/api/v1/secrets?watch=1", /may not watch secrets in all namespaces .* it denies watch on secret kube-system\/db-\*/);
    refused(noSecrets, "DELETE", "/api/v1/namespaces/kube-system/secrets", /it denies deletecollection on secret kube-system\/db-\*/);
    // ... unless a field selector names one object the deny does not cover.
    assert.doesNotThrow(() => decide(noSecrets, "GET", "/api/v1/namespaces/kube-system/secrets?fieldSelector=metadata.name%3Dtoken"));
  });

  test("role v5: the default is pods only", () => {
    const v5 = user([role("old", { allow: { kubernetes_labels: { "*": "*" }, kubernetes_groups: ["g"] } }, "v5")]);
    assert.doesNotThrow(() => decide(v5, "GET", "/api/v1/namespaces/x/pods/y"));
    refused(v5, "GET", "/api/v1/namespaces/x/secrets/y", /no role allows get on secret x\/y/);
  });
});

describe("kubeResourceTarget", () => {
  const T = (method: string, url: string) => kubeResourceTarget(parseKubeRequestUrl(method, url));
  test("maps API groups and resources to Teleport's role v7 kinds", () => {
    const cases: Array<[string, string, string]> = [
      ["/api/v1/namespaces/a/pods/x", "pod", "get"],
      ["/api/v1/namespaces/a/secrets/x", "secret", "get"],
      ["/api/v1/namespaces/a/configmaps/x", "configmap", "get"],
      ["/api/v1/namespaces/a/services/x", "service", "get"],
      ["/api/v1/namespaces/a/serviceaccounts/x", "serviceaccount", "get"],
      ["/api/v1/namespaces/a/persistentvolumeclaims/x", "persistentvolumeclaim", "get"],
      ["/api/v1/persistentvolumes/x", "persistentvolume", "get"],
      ["/api/v1/nodes/x", "kube_node", "get"],
      ["/api/v1/namespaces/x", "namespace", "get"],
      ["/apis/apps/v1/namespaces/a/deployments/x", "deployment", "get"],
      ["/apis/apps/v1/namespaces/a/replicasets/x", "replicaset", "get"],
      ["/apis/apps/v1/namespaces/a/statefulsets/x", "statefulset", "get"],
      ["/apis/apps/v1/namespaces/a/daemonsets/x", "daemonset", "get"],
      ["/apis/batch/v1/namespaces/a/jobs/x", "job", "get"],
      ["/apis/batch/v1/namespaces/a/cronjobs/x", "cronjob", "get"],
      ["/apis/networking.k8s.io/v1/namespaces/a/ingresses/x", "ingress", "get"],
      ["/apis/rbac.authorization.k8s.io/v1/namespaces/a/roles/x", "kube_role", "get"],
      ["/apis/rbac.authorization.k8s.io/v1/namespaces/a/rolebindings/x", "rolebinding", "get"],
      ["/apis/rbac.authorization.k8s.io/v1/clusterroles/x", "clusterrole", "get"],
      ["/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/x", "clusterrolebinding", "get"],
      ["/apis/certificates.k8s.io/v1/certificatesigningrequests/x", "certificatesigningrequest", "get"],
      ["/api/v1/namespaces/a/events/x", "events", "get"],
      ["/apis/example.com/v1/namespaces/a/pods/x", "pods.example.com", "get"],
    ];
    for (const [url, kind, verb] of cases) {
      const t = T("GET", url);
      assert.equal(t?.kind, kind, url);
      assert.equal(t?.verb, verb, url);
    }
  });

  test("namespaces, names and collections", () => {
    assert.deepEqual(T("GET", "/api/v1/namespaces/dev"), { kind: "namespace", verb: "get", namespace: "", name: "dev", allNamespaces: false, allNames: false });
    assert.deepEqual(T("GET", "/api/v1/namespaces"), { kind: "namespace", verb: "list", namespace: "", name: "", allNamespaces: false, allNames: true });
    assert.deepEqual(T("GET", "/api/v1/pods"), { kind: "pod", verb: "list", namespace: "", name: "", allNamespaces: true, allNames: true });
    assert.deepEqual(T("POST", "/api/v1/namespaces/dev/pods/web/attach"), {
      kind: "pod",
      verb: "exec",
      namespace: "dev",
      name: "web",
      allNamespaces: false,
      allNames: false,
    });
    // Unknown kinds: named without a namespace is cluster-scoped; a collection may span namespaces.
    assert.deepEqual(T("GET", "/apis/x.io/v1/widgets/w"), {
      kind: "widgets.x.io",
      verb: "get",
      namespace: "",
      name: "w",
      allNamespaces: false,
      allNames: false,
    });
    assert.deepEqual(T("GET", "/apis/x.io/v1/widgets"), { kind: "widgets.x.io", verb: "list", namespace: "", name: "", allNamespaces: true, allNames: true });
    assert.equal(T("GET", "/version"), undefined);
  });
});

describe("applyImpersonation", () => {
  test("removes the client's credentials and impersonation, sets the grant's, and the service's token", () => {
    const h = new HeaderList([
      ["Host", "kube"],
      ["Authorization", "Bearer stolen"],
      ["impersonate-user", "admin"],
      ["Impersonate-Group", "system:masters"],
      ["Impersonate-Uid", "0"],
      ["Impersonate-Extra-Scopes", "x"],
      ["Accept", "application/json"],
    ]);
    applyImpersonation(h, { user: "alice", groups: ["developers", "system:authenticated"], kubeUsers: [], kubeGroups: ["developers"] }, "svc-token");
    assert.deepEqual(h.entries(), [
      ["Host", "kube"],
      ["Accept", "application/json"],
      ["Impersonate-User", "alice"],
      ["Impersonate-Group", "developers"],
      ["Impersonate-Group", "system:authenticated"],
      ["Authorization", "Bearer svc-token"],
    ]);
  });
});
