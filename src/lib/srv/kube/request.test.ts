import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import { isKubeRequestError, type KubeRequestInfo, parseKubeRequest, parseKubeRequestUrl } from "./request.ts";

type Expect = Partial<KubeRequestInfo>;
const R = (o: Expect): Expect => ({ isResource: true, apiGroup: "", apiVersion: "v1", namespace: "", subresource: "", name: "", ...o });
const N = (verb: string): Expect => ({ isResource: false, verb, apiGroup: "", apiVersion: "", namespace: "", resource: "", subresource: "", name: "" });

const CASES: Array<[method: string, url: string, want: Expect]> = [
  // Non-resource paths.
  ["GET", "/", N("get")],
  ["GET", "/version", N("get")],
  ["GET", "/api", N("get")],
  ["GET", "/api/v1", N("get")],
  ["GET", "/apis", N("get")],
  ["GET", "/apis/apps", N("get")],
  ["GET", "/apis/apps/v1", N("get")],
  ["GET", "/openapi/v2", N("get")],
  ["GET", "/openapi/v3/apis/apps/v1", N("get")],
  ["GET", "/healthz", N("get")],
  ["POST", "/foo/bar/baz", N("post")],
  ["GET", "/other/v1/namespaces/dev/pods", N("get")],
  // Core group.
  ["GET", "/api/v1/pods", R({ verb: "list", resource: "pods" })],
  ["GET", "/api/v1/namespaces/dev/pods", R({ verb: "list", resource: "pods", namespace: "dev" })],
  ["GET", "/api/v1/namespaces/dev/pods?watch=true&resourceVersion=10", R({ verb: "watch", resource: "pods", namespace: "dev" })],
  ["GET", "/api/v1/namespaces/dev/pods?watch=1", R({ verb: "watch", resource: "pods", namespace: "dev" })],
  ["GET", "/api/v1/namespaces/dev/pods?watch=false", R({ verb: "list", resource: "pods", namespace: "dev" })],
  ["GET", "/api/v1/namespaces/dev/pods?watch=0", R({ verb: "list", resource: "pods", namespace: "dev" })],
  ["GET", "/api/v1/namespaces/dev/pods/web", R({ verb: "get", resource: "pods", namespace: "dev", name: "web" })],
  ["HEAD", "/api/v1/namespaces/dev/pods/web", R({ verb: "get", resource: "pods", namespace: "dev", name: "web" })],
  ["GET", "/api/v1/namespaces/dev/pods/web/log?container=app", R({ verb: "get", resource: "pods", namespace: "dev", name: "web", subresource: "log" })],
  [
    "POST",
    "/api/v1/namespaces/dev/pods/web/exec?command=sh&stdin=true&tty=true",
    R({ verb: "create", resource: "pods", namespace: "dev", name: "web", subresource: "exec" }),
  ],
  ["GET", "/api/v1/namespaces/dev/pods/web/exec?command=ls", R({ verb: "get", resource: "pods", namespace: "dev", name: "web", subresource: "exec" })],
  ["POST", "/api/v1/namespaces/dev/pods/web/attach", R({ verb: "create", resource: "pods", namespace: "dev", name: "web", subresource: "attach" })],
  [
    "POST",
    "/api/v1/namespaces/dev/pods/web/portforward?ports=80",
    R({ verb: "create", resource: "pods", namespace: "dev", name: "web", subresource: "portforward" }),
  ],
  ["POST", "/api/v1/namespaces/dev/pods", R({ verb: "create", resource: "pods", namespace: "dev" })],
  ["PUT", "/api/v1/namespaces/dev/pods/web", R({ verb: "update", resource: "pods", namespace: "dev", name: "web" })],
  ["PATCH", "/api/v1/namespaces/dev/pods/web/status", R({ verb: "patch", resource: "pods", namespace: "dev", name: "web", subresource: "status" })],
  ["DELETE", "/api/v1/namespaces/dev/pods/web", R({ verb: "delete", resource: "pods", namespace: "dev", name: "web" })],
  ["DELETE", "/api/v1/namespaces/dev/pods", R({ verb: "deletecollection", resource: "pods", namespace: "dev" })],
  ["DELETE", "/api/v1/namespaces/dev/pods?labelSelector=app%3Dweb", R({ verb: "deletecollection", resource: "pods", namespace: "dev" })],
  // Namespaces themselves: the name is also the namespace (as the API server reads it).
  ["GET", "/api/v1/namespaces", R({ verb: "list", resource: "namespaces" })],
  ["GET", "/api/v1/namespaces/dev", R({ verb: "get", resource: "namespaces", namespace: "dev", name: "dev" })],
  ["PUT", "/api/v1/namespaces/dev/status", R({ verb: "update", resource: "namespaces", namespace: "dev", name: "dev", subresource: "status" })],
  ["PUT", "/api/v1/namespaces/dev/finalize", R({ verb: "update", resource: "namespaces", namespace: "dev", name: "dev", subresource: "finalize" })],
  ["DELETE", "/api/v1/namespaces/dev", R({ verb: "delete", resource: "namespaces", namespace: "dev", name: "dev" })],
  // Cluster-scoped.
  ["GET", "/api/v1/nodes/n1", R({ verb: "get", resource: "nodes", name: "n1" })],
  ["GET", "/api/v1/nodes/n1/proxy/metrics", R({ verb: "get", resource: "nodes", name: "n1", subresource: "proxy" })],
  // Named groups.
  ["GET", "/apis/apps/v1/deployments", R({ verb: "list", resource: "deployments", apiGroup: "apps" })],
  [
    "GET",
    "/apis/apps/v1/namespaces/dev/deployments/api/scale",
    R({ verb: "get", resource: "deployments", apiGroup: "apps", namespace: "dev", name: "api", subresource: "scale" }),
  ],
  [
    "GET",
    "/apis/rbac.authorization.k8s.io/v1/clusterroles/admin",
    R({ verb: "get", resource: "clusterroles", apiGroup: "rbac.authorization.k8s.io", name: "admin" }),
  ],
  [
    "POST",
    "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
    R({ verb: "create", resource: "selfsubjectaccessreviews", apiGroup: "authorization.k8s.io" }),
  ],
  [
    "GET",
    "/apis/stable.example.com/v1beta1/namespaces/dev/crontabs?watch=true",
    R({ verb: "watch", resource: "crontabs", apiGroup: "stable.example.com", apiVersion: "v1beta1", namespace: "dev" }),
  ],
  // Verbs in the path.
  ["GET", "/api/v1/watch/namespaces/dev/pods", R({ verb: "watch", resource: "pods", namespace: "dev" })],
  ["GET", "/api/v1/watch/namespaces/dev/pods/web", R({ verb: "watch", resource: "pods", namespace: "dev", name: "web" })],
  ["GET", "/api/v1/proxy/namespaces/dev/pods/web/some/path", R({ verb: "proxy", resource: "pods", namespace: "dev", name: "web" })],
  // A field selector on the name narrows a list or watch to one object.
  ["GET", "/api/v1/namespaces/dev/pods?fieldSelector=metadata.name%3Dweb&watch=true", R({ verb: "watch", resource: "pods", namespace: "dev", name: "web" })],
  [
    "GET",
    "/api/v1/namespaces/dev/pods?fieldSelector=status.phase%3DRunning,metadata.name%3D%3Dweb",
    R({ verb: "list", resource: "pods", namespace: "dev", name: "web" }),
  ],
  ["GET", "/api/v1/namespaces/dev/pods?fieldSelector=metadata.name!%3Dweb", R({ verb: "list", resource: "pods", namespace: "dev" })],
  ["GET", "/api/v1/namespaces/dev/pods?fieldSelector=metadata.name%3D..", R({ verb: "list", resource: "pods", namespace: "dev" })],
  // Percent-encoding is decoded first, like the API server does.
  ["GET", "/api/v1/namespaces/d%65v/pods/w%65b", R({ verb: "get", resource: "pods", namespace: "dev", name: "web" })],
  ["GET", "/api/v1/namespaces/dev%2Fpods", R({ verb: "list", resource: "pods", namespace: "dev" })],
  // Trailing slashes are ignored.
  ["GET", "/api/v1/namespaces/dev/pods/", R({ verb: "list", resource: "pods", namespace: "dev" })],
];

describe("parseKubeRequest: Kubernetes RequestInfo rules", () => {
  for (const [method, url, want] of CASES) {
    test(`${method} ${url}`, () => {
      const got = parseKubeRequestUrl(method, url);
      for (const [k, v] of Object.entries(want)) assert.equal(got[k as keyof KubeRequestInfo], v, `${k} of ${method} ${url}`);
    });
  }

  test("a path and a parsed query work the same as the request-target", () => {
    assert.deepEqual(parseKubeRequest("GET", "/api/v1/pods", new URLSearchParams({ watch: "true" })), parseKubeRequestUrl("GET", "/api/v1/pods?watch=true"));
  });

  const BAD: Array<[method: string, url: string, re: RegExp]> = [
    ["GET", "/api/v1/namespaces/%zz/pods", /bad percent-encoding/],
    ["GET", "/api/v1/namespaces//pods", /empty, "\." or "\.\." segment/],
    ["GET", "/api/v1/namespaces/dev/pods/../secrets", /empty, "\." or "\.\." segment/],
    ["GET", "/api/v1/namespaces/%2e%2e/pods", /empty, "\." or "\.\." segment/],
    ["GET", "/api/v1/namespaces/dev/pods/a%00b", /control characters/],
    ["GET", "/api/v1/watch", /unable to determine kind and namespace/],
    ["OPTIONS", "/api/v1/pods", /method "OPTIONS" is not allowed/],
    ["GET", "api/v1/pods", /must start with "\/"/],
    ["GET", `/api/v1/namespaces/${"a".repeat(9000)}/pods`, /longer than 8192 bytes/],
  ];
  for (const [method, url, re] of BAD) {
    test(`refuses ${method} ${url.slice(0, 60)}`, () => {
      assert.throws(
        () => parseKubeRequestUrl(method, url),
        (e: unknown) => {
          assert.ok(isKubeRequestError(e), String(e));
          assert.match(e.message, re);
          assert.equal(e.status.code, 400);
          assert.equal(e.status.reason, "BadRequest");
          return true;
        },
      );
    });
  }
});

describe("parseKubeRequest fuzz", () => {
  const SEGMENTS = [
    "api",
    "apis",
    "v1",
    "apps",
    "namespaces",
    "dev",
    "pods",
    "web",
    "exec",
    "watch",
    "proxy",
    "status",
    "finalize",
    "",
    ".",
    "..",
    "%2F",
    "%",
    "%zz",
    "%e2%82",
    "\u00e9",
    "a b",
    "?",
    "#",
  ];
  const pick = <T>(a: readonly T[]): T => a[Math.floor(Math.random() * a.length)] as T;
  const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE", "", "get"];

  test("random paths from Kubernetes-like segments never throw anything but a KubeRequestError", () => {
    for (let i = 0; i < 4000; i++) {
      const n = Math.floor(Math.random() * 9);
      const path = `/${Array.from({ length: n }, () => pick(SEGMENTS)).join("/")}`;
      const query = Math.random() < 0.3 ? `?watch=${pick(["true", "0", "", "x"])}&fieldSelector=${encodeURIComponent(`metadata.name=${pick(SEGMENTS)}`)}` : "";
      check(pick(METHODS), path + query);
    }
  });

  test("random bytes never throw anything but a KubeRequestError", () => {
    for (let i = 0; i < 2000; i++) {
      const raw = randomBytes(Math.floor(Math.random() * 64)).toString("latin1");
      check(pick(METHODS), Math.random() < 0.8 ? `/${raw}` : raw);
    }
  });

  function check(method: string, url: string): void {
    try {
      const r = parseKubeRequestUrl(method, url);
      // What comes out is always well-formed.
      assert.equal(typeof r.verb, "string");
      if (r.isResource) {
        assert.ok(r.resource !== "", `${method} ${url}`);
        for (const f of [r.namespace, r.name, r.resource, r.subresource]) assert.ok(!f.includes("/") || f === r.path, `${method} ${url}`);
      }
    } catch (e) {
      assert.ok(isKubeRequestError(e), `${method} ${JSON.stringify(url)}: ${String(e)}`);
    }
  }
});
