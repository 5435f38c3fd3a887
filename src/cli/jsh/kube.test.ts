import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { KubeClusterInfo } from "../../lib/client/index.ts";
import { kubeLoginMessage, renderKubeClusters } from "./kube.ts";

describe("jsh kube", () => {
  const rows: KubeClusterInfo[] = [
    { name: "dev", labels: { team: "web", env: "dev" } },
    { name: "prod", labels: {} },
  ];

  it("ls: a table of name and labels; * marks the cluster of kubectl's current context", () => {
    const text = renderKubeClusters(rows, "text", "dev").split("\n");
    assert.match(text[0] ?? "", /^Name +Labels +Selected$/);
    assert.match(text[2] ?? "", /^dev +env=dev,team=web +\*$/);
    assert.equal(text[3], "prod");
    assert.doesNotMatch(renderKubeClusters(rows, "text"), /\*/);
    assert.deepEqual(JSON.parse(renderKubeClusters(rows, "json", "dev")), [
      { name: "dev", labels: { team: "web", env: "dev" }, selected: true },
      { name: "prod", labels: {}, selected: false },
    ]);
    assert.match(renderKubeClusters(rows, "yaml"), /^- name: dev\n {2}labels:\n {4}team: web/);
  });

  it("login says what to run next", () => {
    assert.equal(kubeLoginMessage("dev"), "Logged into Kubernetes cluster dev. Try: kubectl get pods");
  });
});
