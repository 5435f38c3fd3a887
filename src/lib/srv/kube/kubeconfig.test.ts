import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { isJumpgateError } from "../../../api/errors.ts";
import { loadKubeconfig, parseKubeconfig } from "./kubeconfig.ts";

const CA = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n";
const CERT = "-----BEGIN CERTIFICATE-----\nMIIBclient\n-----END CERTIFICATE-----\n";
const KEY = "-----BEGIN EC PRIVATE KEY-----\nMHcfake\n-----END EC PRIVATE KEY-----\n";
const b64 = (s: string) => Buffer.from(s).toString("base64");

/** A kubeconfig with one context `ctx` → cluster `c` → user `u`. */
function kubeconfig(o: { ctx?: string; cluster?: Record<string, unknown>; user?: Record<string, unknown>; extra?: string } = {}): string {
  const cluster = { server: "https://10.0.0.1:6443", "certificate-authority-data": b64(CA), ...o.cluster };
  const user = o.user ?? { "client-certificate-data": b64(CERT), "client-key-data": b64(KEY) };
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Config",
    "current-context": o.ctx ?? "dev",
    clusters: [{ name: "c", cluster }],
    users: [{ name: "u", user }],
    contexts: [{ name: o.ctx ?? "dev", context: { cluster: "c", user: "u", namespace: "default" } }],
  });
}

const problem = (text: string, files: Record<string, string> = {}): string => {
  try {
    parseKubeconfig(text, { source: "/etc/jumpgate/kubeconfig", readFile: (p) => fileOrThrow(files, p) });
  } catch (e) {
    assert.ok(isJumpgateError(e, "bad-parameter"), String(e));
    return e.message;
  }
  assert.fail("expected a bad-parameter error");
};

function fileOrThrow(files: Record<string, string>, p: string): string {
  const f = files[p];
  if (f === undefined) throw Object.assign(new Error("no such file"), { code: "ENOENT" });
  return f;
}

describe("parseKubeconfig", () => {
  test("each context is a cluster named after it, with the server, CA and client certificate", () => {
    const yaml = `
apiVersion: v1
kind: Config
clusters:
- name: kind-dev
  cluster:
    server: https://127.0.0.1:36443
    certificate-authority-data: ${b64(CA)}
- name: prod
  cluster:
    server: https://prod.example.com
    certificate-authority: pki/ca.crt
    tls-server-name: kubernetes.default
users:
- name: jumpgate
  user:
    client-certificate-data: ${b64(CERT)}
    client-key-data: ${b64(KEY)}
- name: sa
  user:
    token: abc.def.ghi
contexts:
- name: dev
  context: {cluster: kind-dev, user: jumpgate}
- name: prod
  context: {cluster: prod, user: sa, namespace: web}
current-context: dev
`;
    const got = parseKubeconfig(yaml, { source: "/etc/jumpgate/kubeconfig", readFile: (p) => fileOrThrow({ "/etc/jumpgate/pki/ca.crt": CA }, p) });
    assert.deepEqual(got, [
      { name: "dev", server: "https://127.0.0.1:36443", ca: CA, insecureSkipTlsVerify: false, credentials: { kind: "client-cert", cert: CERT, key: KEY } },
      {
        name: "prod",
        server: "https://prod.example.com",
        ca: CA,
        insecureSkipTlsVerify: false,
        tlsServerName: "kubernetes.default",
        credentials: { kind: "token", token: "abc.def.ghi" },
      },
    ]);
  });

  test("certificate and key files, token files, insecure-skip-tls-verify", () => {
    const files = { "/etc/jumpgate/c.crt": CERT, "/keys/c.key": KEY, "/var/run/token": "tok\n" };
    const [a] = parseKubeconfig(kubeconfig({ user: { "client-certificate": "c.crt", "client-key": "/keys/c.key" } }), {
      source: "/etc/jumpgate/kubeconfig",
      readFile: (p) => fileOrThrow(files, p),
    });
    assert.deepEqual(a?.credentials, { kind: "client-cert", cert: CERT, key: KEY });
    const [b] = parseKubeconfig(
      kubeconfig({ user: { tokenFile: "/var/run/token" }, cluster: { "certificate-authority-data": undefined, "insecure-skip-tls-verify": true } }),
      {
        source: "/etc/jumpgate/kubeconfig",
        readFile: (p) => fileOrThrow(files, p),
      },
    );
    assert.deepEqual(b?.credentials, { kind: "token-file", path: "/var/run/token" });
    assert.equal(b?.insecureSkipTlsVerify, true);
    assert.equal(b?.ca, undefined);
  });

  const K = "kubeconfig /etc/jumpgate/kubeconfig";
  const CASES: Array<[string, string, Record<string, string>?]> = [
    [
      kubeconfig({ ctx: "My_Cluster" }),
      `${K}: context "My_Cluster": cannot be a Jumpgate cluster name: a Kubernetes cluster name must be 1 to 63 lowercase letters, digits or '-', starting and ending with a letter or digit (a DNS label); rename the context`,
    ],
    [
      kubeconfig({ ctx: "kind.dev" }),
      `${K}: context "kind.dev": cannot be a Jumpgate cluster name: a Kubernetes cluster name must be 1 to 63 lowercase letters, digits or '-', starting and ending with a letter or digit (a DNS label); rename the context`,
    ],
    [
      kubeconfig({ user: { exec: { apiVersion: "client.authentication.k8s.io/v1beta1", command: "aws" } } }),
      `${K}: context "dev": user "u" uses an exec credential plugin, which Jumpgate does not support; give the Kubernetes Service a client certificate or a token (for example a service account token)`,
    ],
    [
      kubeconfig({ user: { "auth-provider": { name: "gcp" } } }),
      `${K}: context "dev": user "u" uses an auth-provider plugin, which Jumpgate does not support; give the Kubernetes Service a client certificate or a token (for example a service account token)`,
    ],
    [
      kubeconfig({ user: { username: "admin", password: "x" } }),
      `${K}: context "dev": user "u": basic authentication (username/password) is not supported; use a client certificate or a token`,
    ],
    [
      kubeconfig({ user: { token: "t", as: "admin" } }),
      `${K}: context "dev": user "u": as is not supported: the Kubernetes Service impersonates each Jumpgate user itself`,
    ],
    [kubeconfig({ user: {} }), `${K}: context "dev": user "u" has no credentials: give the Kubernetes Service a client certificate and key, or a token`],
    [
      kubeconfig({ user: { "client-certificate-data": b64(CERT) } }),
      `${K}: context "dev": user "u": a client certificate needs its key (client-certificate and client-key, or their -data forms)`,
    ],
    [
      kubeconfig({ user: { "client-certificate-data": b64(CERT), "client-key-data": b64("nope") } }),
      `${K}: context "dev": user "u": client key: not a PEM private key`,
    ],
    [
      kubeconfig({ user: { "client-certificate": "missing.crt", "client-key-data": b64(KEY) } }),
      `${K}: context "dev": cannot read the client certificate /etc/jumpgate/missing.crt (client-certificate): ENOENT`,
    ],
    [kubeconfig({ user: { tokenFile: "/t" } }), `${K}: context "dev": user "u": the token file /t is empty`, { "/t": "\n" }],
    [kubeconfig({ cluster: { server: "10.0.0.1:6443" } }), `${K}: context "dev": cluster "c": invalid server "10.0.0.1:6443": use https://HOST[:PORT]`],
    [
      kubeconfig({ cluster: { server: "https://rancher/k8s/clusters/c-1" } }),
      `${K}: context "dev": cluster "c": server "https://rancher/k8s/clusters/c-1": a path in the server URL is not supported`,
    ],
    [kubeconfig({ cluster: { server: undefined } }), `${K}: context "dev": cluster "c" has no server`],
    [
      kubeconfig({ cluster: { "proxy-url": "http://proxy:3128" } }),
      `${K}: context "dev": cluster "c": proxy-url is not supported; the Kubernetes Service must reach the API server directly`,
    ],
    [
      kubeconfig({ cluster: { "insecure-skip-tls-verify": true } }),
      `${K}: context "dev": cluster "c": a CA and insecure-skip-tls-verify together make no sense; drop one`,
    ],
    [
      kubeconfig({ cluster: { "certificate-authority-data": "not base64!" } }),
      `${K}: context "dev": cluster "c": certificate-authority-data: not valid base64`,
    ],
    [
      kubeconfig({ cluster: { "certificate-authority-data": b64("hello") } }),
      `${K}: context "dev": cluster "c": certificate-authority-data: not a PEM certificate`,
    ],
    [JSON.stringify({ kind: "Config", clusters: [], users: [], contexts: [] }), `${K}: no contexts: each context becomes a Kubernetes cluster in Jumpgate`],
    [
      JSON.stringify({ kind: "Config", contexts: [{ name: "dev", context: { cluster: "x", user: "u" } }] }),
      `${K}: context "dev": cluster "x" is not in the clusters list`,
    ],
    [
      JSON.stringify({ kind: "Config", contexts: [{ name: "dev", context: { cluster: "x" } }] }),
      `${K}: context "dev": names no user (the credentials the Kubernetes Service uses)`,
    ],
    [JSON.stringify({ kind: "Config", contexts: [{ name: "a" }, { name: "a" }] }), `${K}: contexts: "a" is listed twice`],
    [JSON.stringify({ kind: "Pod" }), `${K}: kind is "Pod", expected "Config"`],
    ["[1, 2]", `${K}: not a kubeconfig (expected a map with clusters, users and contexts)`],
    ["a: [", `${K}: invalid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]`],
  ];
  for (const [text, message, files] of CASES) {
    test(`refuses: ${message.slice(K.length + 2, K.length + 90)}`, () => assert.equal(problem(text, files), message));
  }
});

describe("loadKubeconfig", () => {
  const dir = mkdtempSync(join(tmpdir(), "kubeconfig-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("reads the file and resolves paths from its directory", () => {
    writeFileSync(join(dir, "ca.crt"), CA);
    writeFileSync(
      join(dir, "config"),
      kubeconfig({ cluster: { "certificate-authority-data": undefined, "certificate-authority": "ca.crt" }, user: { token: "t" } }),
    );
    const [c] = loadKubeconfig(join(dir, "config"));
    assert.equal(c?.ca, CA);
  });

  test("a missing file is a clear error", () => {
    assert.throws(() => loadKubeconfig(join(dir, "nope")), /cannot read kubeconfig .*nope: ENOENT/);
  });
});
