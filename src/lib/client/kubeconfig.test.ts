import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parse } from "yaml";
import {
  currentKubeContext,
  type KubeconfigEntry,
  kubeContextName,
  kubeconfigEntryNames,
  kubeconfigPath,
  mergeKubeconfig,
  removeFromKubeconfig,
} from "./kubeconfig.ts";

/** A kubeconfig someone already has: another cluster, with a comment and a field jsh knows nothing about. */
const EXISTING = `apiVersion: v1
kind: Config
# the team's kind cluster
clusters:
- cluster:
    certificate-authority-data: S0lORA==
    server: https://127.0.0.1:6443
  name: kind-dev
contexts:
- context:
    cluster: kind-dev
    namespace: web
    user: kind-dev
  name: kind-dev
current-context: kind-dev
preferences: {}
users:
- name: kind-dev
  user:
    token: abc
extensions:
- name: keep-me
`;

const CA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----";

const entry = (o: Partial<KubeconfigEntry> = {}): KubeconfigEntry => ({
  name: kubeContextName("example", "dev"),
  server: "https://proxy.example.com:3080",
  tlsServerName: "kube.proxy.example.com",
  caPems: [CA],
  clientCertificate: "/home/alice/.jsh/keys/proxy.example.com_3080/alice-kube/example/dev.crt",
  clientKey: "/home/alice/.jsh/keys/proxy.example.com_3080/alice-kube/example/dev.key",
  ...o,
});

type Named = { name: string; [k: string]: unknown };
const doc = (text: string) => parse(text) as { clusters: Named[]; contexts: Named[]; users: Named[]; "current-context": string; [k: string]: unknown };

describe("the kubeconfig jsh kube login writes", () => {
  test("the context name and the file: $KUBECONFIG's first path, else ~/.kube/config", () => {
    assert.equal(kubeContextName("example", "dev"), "example-dev");
    assert.equal(kubeconfigPath({ KUBECONFIG: "/a/one:/b/two" }, "/home/alice"), "/a/one");
    assert.equal(kubeconfigPath({ KUBECONFIG: ":/b/two" }, "/home/alice"), "/b/two");
    assert.equal(kubeconfigPath({ KUBECONFIG: "" }, "/home/alice"), "/home/alice/.kube/config");
    assert.equal(kubeconfigPath({}, "/home/alice"), "/home/alice/.kube/config");
  });

  test("an empty or missing file becomes a whole kubeconfig with our cluster, user and context, current", () => {
    const text = mergeKubeconfig("", entry());
    assert.deepEqual(parse(text), {
      apiVersion: "v1",
      clusters: [
        {
          name: "example-dev",
          cluster: {
            server: "https://proxy.example.com:3080",
            "tls-server-name": "kube.proxy.example.com",
            "certificate-authority-data": Buffer.from(`${CA}\n`).toString("base64"),
          },
        },
      ],
      contexts: [{ name: "example-dev", context: { cluster: "example-dev", user: "example-dev" } }],
      "current-context": "example-dev",
      kind: "Config",
      preferences: {},
      users: [
        {
          name: "example-dev",
          user: {
            "client-certificate": "/home/alice/.jsh/keys/proxy.example.com_3080/alice-kube/example/dev.crt",
            "client-key": "/home/alice/.jsh/keys/proxy.example.com_3080/alice-kube/example/dev.key",
          },
        },
      ],
    });
    assert.equal(currentKubeContext(text), "example-dev");
  });

  test("an existing file keeps its other entries, comments and fields; ours are added and made current", () => {
    const text = mergeKubeconfig(EXISTING, entry({ caPems: [CA, CA.replace("MIIB", "MIIC")] }));
    const d = doc(text);
    assert.deepEqual(
      d.clusters.map((c) => c.name),
      ["kind-dev", "example-dev"],
    );
    assert.deepEqual(
      d.contexts.map((c) => c.name),
      ["kind-dev", "example-dev"],
    );
    assert.deepEqual(
      d.users.map((c) => c.name),
      ["kind-dev", "example-dev"],
    );
    assert.equal(d["current-context"], "example-dev");
    assert.deepEqual(d.contexts[0], { context: { cluster: "kind-dev", user: "kind-dev", namespace: "web" }, name: "kind-dev" });
    assert.deepEqual(d.users[0], { name: "kind-dev", user: { token: "abc" } });
    assert.deepEqual(d.extensions, [{ name: "keep-me" }]);
    assert.match(text, /^# the team's kind cluster$/m);
    const ours = d.clusters[1];
    assert.ok(ours);
    const ca = Buffer.from(String((ours.cluster as Record<string, string>)["certificate-authority-data"]), "base64").toString();
    assert.equal(ca.match(/BEGIN CERTIFICATE/g)?.length, 2, "every host CA certificate (a rotation has two)");
    // Written in kubectl's own style: every line of the original is still there, in order, as it was.
    const lines = text.split("\n");
    let at = 0;
    for (const line of EXISTING.split("\n").filter((l) => !l.startsWith("current-context:"))) {
      at = lines.indexOf(line, at);
      assert.ok(at >= 0, `kept: ${line}\n${text}`);
    }
  });

  test("logging in again replaces our entries in place: the same file as once", () => {
    const once = mergeKubeconfig(EXISTING, entry());
    assert.equal(mergeKubeconfig(once, entry()), once);
    const renewed = mergeKubeconfig(once, entry({ server: "https://proxy.example.com:443" }));
    const d = doc(renewed);
    assert.equal(d.clusters.length, 2);
    const second = d.clusters[1];
    assert.ok(second);
    assert.equal((second.cluster as Record<string, string>).server, "https://proxy.example.com:443");
    // Another Jumpgate cluster's context sits beside ours.
    const two = doc(mergeKubeconfig(renewed, entry({ name: "example-prod" })));
    assert.deepEqual(
      two.contexts.map((c) => c.name),
      ["kind-dev", "example-dev", "example-prod"],
    );
    assert.equal(two["current-context"], "example-prod");
  });

  test("logout removes only the named entries, and current-context when it was one of them", () => {
    const both = mergeKubeconfig(mergeKubeconfig(EXISTING, entry()), entry({ name: "example-prod" }));
    assert.deepEqual([...kubeconfigEntryNames(both)].sort(), ["example-dev", "example-prod", "kind-dev"]);
    const one = removeFromKubeconfig(both, ["example-dev"]);
    assert.deepEqual(
      doc(one).clusters.map((c) => c.name),
      ["kind-dev", "example-prod"],
    );
    assert.equal(doc(one)["current-context"], "example-prod", "another context stays current");
    const none = removeFromKubeconfig(one, ["example-prod"]);
    assert.equal(doc(none)["current-context"], "");
    assert.equal(currentKubeContext(none), undefined);
    assert.deepEqual(doc(none).users, [{ name: "kind-dev", user: { token: "abc" } }]);
    assert.match(none, /^# the team's kind cluster$/m);
    // Someone else's current context survives our logout.
    const theirs = removeFromKubeconfig(mergeKubeconfig(EXISTING, entry()).replace("current-context: example-dev", "current-context: kind-dev"), [
      "example-dev",
    ]);
    assert.equal(doc(theirs)["current-context"], "kind-dev");
    assert.equal(removeFromKubeconfig("", ["example-dev"]), "");
  });

  test("a file that is not a kubeconfig is refused with its path, not overwritten", () => {
    assert.throws(() => mergeKubeconfig("clusters: [\n", entry(), "/home/alice/.kube/config"), /cannot read the kubeconfig \/home\/alice\/\.kube\/config/);
    assert.throws(() => mergeKubeconfig("- a\n- b\n", entry()), /not a mapping/);
    assert.throws(() => mergeKubeconfig("clusters: 3\n", entry()), /"clusters" is not a list/);
    assert.equal(doc(mergeKubeconfig("clusters:\ncontexts: null\n", entry())).clusters.length, 1);
  });
});
