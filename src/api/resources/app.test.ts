import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isJumpgateError } from "../errors.ts";
import { appLabels, appPublicAddr, appUriScheme } from "./app.ts";
import { appServerApp, appServerName } from "./app-server.ts";
import { parseResource, parseResourceOf } from "./parse.ts";

const app = (spec: unknown, name = "grafana", labels: Record<string, string> = { env: "dev" }) => ({
  kind: "app",
  version: "v3",
  metadata: { name, labels, description: "Dashboards" },
  spec,
});
const server = (over: Record<string, unknown> = {}, name = "grafana@host-1") => ({
  kind: "app_server",
  version: "v3",
  metadata: { name, expires: "2026-06-01T12:10:00Z" },
  spec: { host_id: "host-1", hostname: "app-agent", version: "0.1.0", app: app({ uri: "http://127.0.0.1:3000" }), ...over },
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

describe("app resource", () => {
  it("accepts Teleport's shape: uri, public_addr, rewrite, insecure_skip_verify, dynamic labels", () => {
    const r = parseResourceOf(
      "app",
      app({
        uri: "https://grafana.internal:3000",
        public_addr: "grafana.example.com",
        insecure_skip_verify: true,
        rewrite: { headers: [{ name: "X-Grafana-User", value: "{{internal.logins}}" }], redirect: ["localhost", "grafana.internal:3000"] },
        dynamic_labels: { arch: { period: "1m", command: ["uname", "-m"], result: "x86_64" } },
        cors: {},
      }),
    );
    assert.equal(r.metadata.description, "Dashboards");
    assert.equal(appUriScheme(r.spec.uri), "https");
    assert.deepEqual(appLabels(r), { env: "dev", arch: "x86_64" });
    assert.equal(appPublicAddr(r, "proxy.example.com:3080"), "grafana.example.com");
    const tcp = parseResourceOf("app", app({ uri: "tcp://127.0.0.1:6379" }, "redis"));
    assert.equal(appUriScheme(tcp.spec.uri), "tcp");
    assert.equal(appPublicAddr(tcp, "proxy.example.com:3080"), "redis.proxy.example.com");
  });

  it("refuses what would not work, naming the field", () => {
    const cases: Array<[unknown, string]> = [
      [app({ uri: "ftp://h:21" }), 'app "grafana": spec.uri: invalid uri "ftp://h:21": the scheme must be http, https or tcp'],
      [app({ uri: "127.0.0.1:3000" }), 'app "grafana": spec.uri: invalid uri "127.0.0.1:3000": use http://HOST[:PORT], https://HOST[:PORT] or tcp://HOST:PORT'],
      [app({ uri: "not a uri" }), 'app "grafana": spec.uri: invalid uri "not a uri": use http://HOST[:PORT], https://HOST[:PORT] or tcp://HOST:PORT'],
      [app({ uri: "tcp://h" }), 'app "grafana": spec.uri: invalid uri "tcp://h": use tcp://HOST:PORT'],
      [app({ uri: "http://u:p@h" }), 'app "grafana": spec.uri: invalid uri "http://u:p@h": credentials do not belong in the uri'],
      [app({}), 'app "grafana": spec.uri: required'],
      [
        app({ uri: "http://h", public_addr: "https://grafana.example.com" }),
        'app "grafana": spec.public_addr: invalid public_addr "https://grafana.example.com": use a host name like "grafana.proxy.example.com", without a scheme',
      ],
      [
        app({ uri: "http://h", rewrite: { headers: [{ name: "jumpgate-jwt-assertion", value: "x" }] } }),
        'app "grafana": spec.rewrite.headers[0].name: header "jumpgate-jwt-assertion" is set by Jumpgate and cannot be rewritten',
      ],
      [
        app({ uri: "http://h", rewrite: { headers: [{ name: "Bad Header", value: "x" }] } }),
        'app "grafana": spec.rewrite.headers[0].name: "Bad Header" is not a header name',
      ],
      [
        app({ uri: "http://h", rewrite: { headers: [{ name: "X-A", value: "a\r\nX-B: b" }] } }),
        'app "grafana": spec.rewrite.headers[0].value: a header value must not contain line breaks',
      ],
      [
        app({ uri: "http://h" }, "Grafana"),
        `app "Grafana": metadata.name: an app name must be 1 to 63 lowercase letters, digits or '-', starting and ending with a letter or digit (it becomes a DNS name)`,
      ],
      [app({ uri: "http://h", insecure: true }), 'app "grafana": spec.insecure: unknown field'],
      [{ ...app({ uri: "http://h" }), version: "v2" }, 'app "grafana": version: unsupported version "v2" for kind app; supported: v3'],
    ];
    for (const [d, message] of cases) assert.equal(problem(d), message);
  });
});

describe("app_server resource", () => {
  it("is named app@host, and carries the app with its labels", () => {
    assert.equal(appServerName("grafana", "host-1"), "grafana@host-1");
    const s = parseResourceOf("app_server", server());
    assert.equal(s.spec.app.metadata.name, "grafana");
    assert.deepEqual(appServerApp(s).labels, { env: "dev" });
  });

  it("refuses a name that is not app@host_id, and a bad embedded app", () => {
    assert.equal(problem(server({}, "grafana")), 'app_server "grafana": metadata.name: must be "grafana@host-1" (app name @ host id)');
    assert.equal(problem(server({ host_id: "host-2" })), 'app_server "grafana@host-1": metadata.name: must be "grafana@host-2" (app name @ host id)');
    assert.equal(
      problem(server({ app: app({ uri: "gopher://h" }) })),
      'app_server "grafana@host-1": spec.app.spec.uri: invalid uri "gopher://h": the scheme must be http, https or tcp',
    );
    assert.equal(problem(server({ hostname: "" })), 'app_server "grafana@host-1": spec.hostname: must not be empty');
  });
});
