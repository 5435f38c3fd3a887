import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { appSessionCookie, clearedAppSessionCookie, readCookie, withoutCookie } from "./cookies.ts";
import { appAuthUrl, appForHost, appOrigin, appSubdomain, hostMatchesSni, hostOf, launchUrl, publicAddrIndex, safeAppPath } from "./hosts.ts";

describe("app hosts", () => {
  test("hostOf drops the port, brackets and a trailing dot, and lowercases", () => {
    const cases: [string | undefined, string][] = [
      ["Grafana.Example.COM:443", "grafana.example.com"],
      ["grafana.localhost", "grafana.localhost"],
      ["grafana.localhost.:3080", "grafana.localhost"],
      ["[::1]:3080", "::1"],
      ["::1", "::1"],
      ["127.0.0.1:80", "127.0.0.1"],
      ["host:notaport", ""],
      ["[::1]junk", ""],
      ["", ""],
      [undefined, ""],
    ];
    for (const [input, want] of cases) assert.equal(hostOf(input), want, String(input));
  });

  test("an app is NAME one label below the proxy's host, or a configured public_addr", () => {
    const pa = publicAddrIndex([{ name: "wiki", publicAddr: "Wiki.Corp.Test:8443" }, { name: "other", publicAddr: "wiki.corp.test" }, { name: "plain" }]);
    assert.deepEqual([...pa], [["wiki.corp.test", "wiki"]], "first one wins; names normalised");
    const cases: [string, string, string | undefined][] = [
      ["grafana.proxy.example.com", "proxy.example.com:3080", "grafana"],
      ["grafana.proxy.example.com", "PROXY.example.com", "grafana"],
      ["a.b.proxy.example.com", "proxy.example.com", undefined],
      ["proxy.example.com", "proxy.example.com", undefined],
      ["-bad.proxy.example.com", "proxy.example.com", undefined],
      ["grafana.localhost", "localhost:3080", "grafana"],
      ["grafana.127.0.0.1", "127.0.0.1:3080", undefined],
      ["grafana.::1", "[::1]:3080", undefined],
      ["wiki.corp.test", "proxy.example.com", "wiki"],
      ["grafana.elsewhere.com", "proxy.example.com", undefined],
      ["", "proxy.example.com", undefined],
    ];
    for (const [host, proxy, want] of cases) assert.equal(appForHost(host, proxy, pa), want, `${host} @ ${proxy}`);
    assert.equal(appSubdomain("x.localhost", ""), undefined);
  });

  test("Host must name what the connection was opened for", () => {
    assert.equal(hostMatchesSni("grafana.localhost:3080", "grafana.localhost"), true);
    assert.equal(hostMatchesSni("GRAFANA.localhost", "grafana.LOCALHOST"), true);
    assert.equal(hostMatchesSni("grafana.localhost.", "grafana.localhost"), true);
    assert.equal(hostMatchesSni("wiki.localhost:3080", "grafana.localhost"), false);
    assert.equal(hostMatchesSni(undefined, "grafana.localhost"), false);
    assert.equal(hostMatchesSni("grafana.localhost", undefined), false);
    assert.equal(hostMatchesSni("", ""), false);
  });

  test("only a relative path with one leading slash survives as the redirect target", () => {
    const cases: [string | null | undefined, string][] = [
      ["/dash?x=1#y", "/dash?x=1#y"],
      ["/", "/"],
      ["//evil.example/x", "/"],
      ["/\\evil.example", "/"],
      ["https://evil.example/", "/"],
      ["javascript:alert(1)", "/"],
      ["dash", "/"],
      ["/a\r\nSet-Cookie: x=1", "/"],
      ["/a\tb", "/"],
      ["", "/"],
      [null, "/"],
      [undefined, "/"],
      [`/${"a".repeat(5000)}`, "/"],
    ];
    for (const [input, want] of cases) assert.equal(safeAppPath(input), want, JSON.stringify(input));
  });

  test("launch URLs: the app's host with the proxy's port unless it has its own; 443 left out", () => {
    assert.equal(appOrigin("grafana.localhost", "localhost:3080"), "https://grafana.localhost:3080");
    assert.equal(appOrigin("wiki.corp.test:8443", "localhost:3080"), "https://wiki.corp.test:8443");
    assert.equal(appOrigin("grafana.example.com", "example.com:443"), "https://grafana.example.com");
    assert.equal(appOrigin("grafana.example.com", "example.com"), "https://grafana.example.com");
    assert.equal(
      appAuthUrl("grafana.localhost", "localhost:3080", "t0k/en", "/d?x=1"),
      "https://grafana.localhost:3080/x-jumpgate-app-auth?token=t0k%2Fen&path=%2Fd%3Fx%3D1",
    );
    assert.equal(appAuthUrl("grafana.localhost", "localhost:3080", "t", "//evil"), "https://grafana.localhost:3080/x-jumpgate-app-auth?token=t&path=%2F");
    assert.equal(launchUrl("localhost:3080", "grafana", "/a b"), "https://localhost:3080/web/launch/grafana?path=%2Fa+b");
    assert.equal(launchUrl("proxy.example.com:443", "grafana", "//x"), "https://proxy.example.com/web/launch/grafana?path=%2F");
  });
});

describe("app-session cookie", () => {
  test("host-only, Secure, HttpOnly, Lax, living until the session expires", () => {
    const now = new Date("2030-01-01T00:00:00Z");
    assert.equal(
      appSessionCookie("v", new Date("2030-01-01T01:00:00Z"), now),
      "__Host-jumpgate_app_session=v; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=3600",
    );
    assert.match(appSessionCookie("v", new Date("2029-01-01T00:00:00Z"), now), /Max-Age=0$/);
    assert.equal(clearedAppSessionCookie(), "__Host-jumpgate_app_session=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0");
  });

  test("read from the Cookie header, and removed from what the app sees", () => {
    const req = { headers: { cookie: "a=1; __Host-jumpgate_app_session=abc ; b=2" } };
    assert.equal(readCookie(req), "abc");
    assert.equal(readCookie({ headers: { cookie: "__Host-jumpgate_app_session=" } }), undefined);
    assert.equal(readCookie({ headers: {} }), undefined);
    assert.equal(withoutCookie("a=1; __Host-jumpgate_app_session=abc; b=2"), "a=1; b=2");
    assert.equal(withoutCookie("__Host-jumpgate_app_session=abc"), undefined);
    assert.equal(withoutCookie("flag; x=__Host-jumpgate_app_session"), "flag; x=__Host-jumpgate_app_session");
    assert.equal(withoutCookie(undefined), undefined);
  });
});
