import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { safeRelative, staticUi } from "./static.ts";

describe("static UI", () => {
  const root = mkdtempSync(join(tmpdir(), "jg-static-"));
  const dist = join(root, "dist");
  let server: http.Server;
  let base = "";
  before(async () => {
    mkdirSync(join(dist, "assets"), { recursive: true });
    writeFileSync(join(dist, "index.html"), "<!doctype html><title>ui</title>");
    writeFileSync(join(dist, "assets", "app-abc123.js"), "console.log(1)");
    writeFileSync(join(dist, "favicon.svg"), "<svg/>");
    writeFileSync(join(root, "secret.txt"), "secret");
    const ui = staticUi(dist);
    server = http.createServer((req, res) => {
      const path = new URL(req.url ?? "/", "http://x").pathname;
      if (!ui.serve(req, res, path, "proxy.test:3080")) {
        res.writeHead(404);
        res.end();
      }
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise<void>((r) => server.close(() => r()));
    rmSync(root, { recursive: true, force: true });
  });

  test("index.html at / and for client-side routes, revalidated, with a strict CSP", async () => {
    for (const p of ["/", "/web", "/web/", "/web/resources", "/web/invite/abc"]) {
      const r = await fetch(base + p);
      assert.equal(r.status, 200, p);
      assert.equal(await r.text(), "<!doctype html><title>ui</title>");
      assert.equal(r.headers.get("cache-control"), "no-cache");
      const csp = r.headers.get("content-security-policy") ?? "";
      assert.match(csp, /script-src 'self'/);
      assert.match(csp, /frame-ancestors 'none'/);
      assert.match(csp, /connect-src 'self' wss:\/\/proxy\.test:3080/);
    }
  });

  test("hashed assets are immutable; a missing one is 404, not HTML", async () => {
    const r = await fetch(`${base}/web/assets/app-abc123.js`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get("content-type") ?? "", /text\/javascript/);
    assert.equal(r.headers.get("cache-control"), "public, max-age=31536000, immutable");
    assert.equal((await fetch(`${base}/web/assets/gone.js`)).status, 404);
    assert.equal((await fetch(`${base}/web/favicon.svg`)).headers.get("content-type"), "image/svg+xml");
  });

  test("paths cannot leave the directory", async () => {
    for (const p of ["/web/..%2fsecret.txt", "/web/%2e%2e/secret.txt", "/web/assets/..%2f..%2fsecret.txt", "/web/%00", "/web/..%5csecret.txt"]) {
      const r = await fetch(base + p);
      assert.notEqual(await r.text(), "secret", p);
      // 400 from the check; 404 when the URL parser already folded a "%2e%2e" segment away.
      assert.ok(r.status === 400 || r.status === 404, `${p}: ${r.status}`);
    }
    assert.equal(safeRelative("a/./b//c"), "a/b/c");
    assert.equal(safeRelative("a/../b"), undefined);
    assert.equal(safeRelative(".env"), undefined);
    assert.equal(safeRelative("%E0%A4%A"), undefined);
  });

  test("without a build, the UI is reported missing", () => {
    assert.equal(staticUi(join(root, "nope")).available(), false);
    assert.equal(staticUi(dist).available(), true);
  });
});
