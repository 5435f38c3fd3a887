import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isJumpgateError } from "../errors.ts";
import { isValidKubeClusterName, kubeClusterLabels } from "./kube-cluster.ts";
import { kubeServerCluster, kubeServerName } from "./kube-server.ts";
import { parseResource, parseResourceOf } from "./parse.ts";

const cluster = (spec: unknown = {}, name = "dev", labels: Record<string, string> = { env: "dev" }) => ({
  kind: "kube_cluster",
  version: "v3",
  metadata: { name, labels },
  spec,
});
const server = (over: Record<string, unknown> = {}, name = "dev@host-1") => ({
  kind: "kube_server",
  version: "v3",
  metadata: { name, expires: "2026-06-01T12:10:00Z" },
  spec: { host_id: "host-1", hostname: "kube-agent", version: "0.1.0", cluster: cluster(), ...over },
});

const problem = (d: unknown): string => {
  try {
    parseResource(d);
  } catch (e) {
    assert.ok(isJumpgateError(e, "bad-parameter"), String(e));
    return e.message;
  }
  assert.fail("expected a bad-parameter error");
};

describe("kube_cluster resource", () => {
  it("accepts Teleport's shape; labels are static plus dynamic results; kubeconfig is accepted and ignored", () => {
    const c = parseResourceOf(
      "kube_cluster",
      cluster({ kubeconfig: "YmFzZTY0", dynamic_labels: { k8s: { period: "1h", command: ["kubectl", "version"], result: "1.31" } } }),
    );
    assert.deepEqual(kubeClusterLabels(c), { env: "dev", k8s: "1.31" });
    // No spec at all is fine too.
    const bare = parseResourceOf("kube_cluster", { kind: "kube_cluster", version: "v3", metadata: { name: "prod" } });
    assert.deepEqual(kubeClusterLabels(bare), {});
  });

  it("names are DNS labels", () => {
    for (const n of ["dev", "a", "k8s-prod-1", "0abc"]) assert.ok(isValidKubeClusterName(n), n);
    for (const n of ["", "Dev", "-a", "a-", "a.b", "a_b", "x".repeat(64), "a b"]) assert.ok(!isValidKubeClusterName(n), n);
  });

  it("refuses what would not work, naming the field", () => {
    const cases: Array<[unknown, string]> = [
      [
        cluster({}, "Prod.Cluster"),
        `kube_cluster "Prod.Cluster": metadata.name: a Kubernetes cluster name must be 1 to 63 lowercase letters, digits or '-', starting and ending with a letter or digit (a DNS label)`,
      ],
      [
        cluster({ dynamic_labels: { a: { period: "often", command: ["x"] } } }),
        'kube_cluster "dev": spec.dynamic_labels.a.period: invalid duration "often": use a number and a unit (h, m, s, ms), like "8h", "90m" or "1h30m"',
      ],
      [cluster({ server: "https://x" }), 'kube_cluster "dev": spec.server: unknown field'],
      [{ ...cluster(), version: "v2" }, 'kube_cluster "dev": version: unsupported version "v2" for kind kube_cluster; supported: v3'],
    ];
    for (const [d, message] of cases) assert.equal(problem(d), message);
  });
});

describe("kube_server resource", () => {
  it("is named cluster@host, and carries the cluster with its labels", () => {
    assert.equal(kubeServerName("dev", "host-1"), "dev@host-1");
    const s = parseResourceOf("kube_server", server());
    assert.equal(s.spec.cluster.metadata.name, "dev");
    assert.deepEqual(kubeServerCluster(s).labels, { env: "dev" });
  });

  it("refuses a name that is not cluster@host_id, and a bad embedded cluster", () => {
    assert.equal(problem(server({}, "dev")), 'kube_server "dev": metadata.name: must be "dev@host-1" (cluster name @ host id)');
    assert.equal(problem(server({ host_id: "host-2" })), 'kube_server "dev@host-1": metadata.name: must be "dev@host-2" (cluster name @ host id)');
    assert.equal(problem(server({ hostname: "" })), 'kube_server "dev@host-1": spec.hostname: must not be empty');
    assert.match(problem(server({ cluster: cluster({}, "BAD") }, "BAD@host-1")), /spec\.cluster\.metadata\.name: a Kubernetes cluster name must be/);
  });
});
