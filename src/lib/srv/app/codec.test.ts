import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { describe, test } from "node:test";
import { APP_JWT_HEADER, APP_SESSION_COOKIE, encodeAppHeader } from "../../../api/appwire.ts";
import { FakeClock } from "../../../api/clock.ts";
import { isJumpgateError } from "../../../api/errors.ts";
import { HeaderList } from "../../httpfwd/index.ts";
import { clientIp, readAppHeader, requestPath, stripSessionCookie } from "./codec.ts";
import { editRequestHeaders, expandRewriteHeaders } from "./rewrite.ts";
import { AppTokenCache, type AppTokenRequest } from "./tokens.ts";

const h = { cert: "-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n", clientAddr: "192.0.2.1:5000", app: "web", publicAddr: "web.example.com" };

async function readAll(s: PassThrough): Promise<string> {
  let out = "";
  s.resume();
  for await (const c of s) out += String(c);
  return out;
}

describe("readAppHeader", () => {
  test("reads a header split across chunks and puts back what follows it", async () => {
    const s = new PassThrough();
    const bytes = Buffer.concat([encodeAppHeader(h), Buffer.from("GET / HTTP/1.1\r\n")]);
    const got = readAppHeader(s, 1_000);
    for (let i = 0; i < bytes.length; i += 7) s.write(bytes.subarray(i, i + 7));
    assert.deepEqual(await got, h);
    s.end();
    assert.equal(await readAll(s), "GET / HTTP/1.1\r\n");
  });

  test("refuses what is not a header, too large, cut short or too slow", async () => {
    const refused = async (write: (s: PassThrough) => void, re: RegExp, timeoutMs = 1_000) => {
      const s = new PassThrough();
      const p = readAppHeader(s, timeoutMs);
      write(s);
      await assert.rejects(p, (e: unknown) => {
        assert.ok(isJumpgateError(e, "bad-parameter"), String(e));
        assert.match(e.message, re);
        return true;
      });
    };
    await refused((s) => s.write("GET / HTTP/1.1\r\n"), /not an app stream header/);
    const big = Buffer.from("JGAP\xff\xff\xff\xff", "latin1");
    await refused((s) => s.write(big), /too large/);
    await refused((s) => s.end(encodeAppHeader(h).subarray(0, 20)), /closed before/);
    await refused(() => undefined, /timed out/, 30);
  });

  test("never throws anything but bad-parameter on mutated headers (fuzz)", async () => {
    const good = Buffer.concat([encodeAppHeader(h), Buffer.from("rest")]);
    let seed = 42;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    for (let i = 0; i < 300; i++) {
      const b = Buffer.from(good);
      for (let n = 0; n < 1 + Math.floor(rnd() * 4); n++) b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
      const cut = b.subarray(0, Math.floor(rnd() * (b.length + 1)));
      const s = new PassThrough();
      const p = readAppHeader(s, 1_000);
      s.end(cut);
      await p.then(
        (got) => assert.equal(typeof got.app, "string"),
        (e: unknown) => assert.ok(isJumpgateError(e, "bad-parameter"), `crashed on ${cut.toString("hex")}: ${String(e)}`),
      );
    }
  });
});

describe("request edits", () => {
  test("the app-session cookie is removed, other cookies kept", () => {
    assert.equal(stripSessionCookie(`a=1; ${APP_SESSION_COOKIE}=x; b="2; 3"`), `a=1; b="2; 3"`);
    assert.equal(stripSessionCookie(`${APP_SESSION_COOKIE}=x`), undefined);
    assert.equal(stripSessionCookie(`${APP_SESSION_COOKIE}x=1`), `${APP_SESSION_COOKIE}x=1`);
    assert.equal(stripSessionCookie(""), undefined);
  });

  test("client addresses lose their port; paths lose their query", () => {
    assert.equal(clientIp("203.0.113.7:51234"), "203.0.113.7");
    assert.equal(clientIp("[2001:db8::1]:443"), "2001:db8::1");
    assert.equal(clientIp("::ffff:10.0.0.1"), "10.0.0.1");
    assert.equal(clientIp("2001:db8::2"), "2001:db8::2");
    assert.equal(requestPath("/a/b?token=secret#x"), "/a/b");
    assert.equal(requestPath("http://h/p?q"), "/p");
    assert.equal(requestPath(undefined), "/");
  });

  test("rewrite headers expand trait templates; empty expansions drop the header", () => {
    const traits = { logins: ["alice", "root"], groups: ["dev"], email: ["alice@example.com"] };
    const got = expandRewriteHeaders(
      [
        { name: "X-Logins", value: "{{internal.logins}}" },
        { name: "X-Group", value: "team-{{external.groups}}" },
        { name: "X-Local", value: "{{email.local(external.email)}}" },
        { name: "X-Missing", value: "{{external.nope}}" },
        { name: "X-Bad", value: "{{internal.logins" },
        { name: "X-Plain", value: "v" },
      ],
      traits,
    );
    assert.deepEqual(got, [
      { name: "X-Logins", value: "alice, root" },
      { name: "X-Group", value: "team-dev" },
      { name: "X-Local", value: "alice" },
      { name: "X-Missing", value: undefined },
      { name: "X-Bad", value: undefined },
      { name: "X-Plain", value: "v" },
    ]);
    const list = HeaderList.fromRaw(["X-Missing", "forged", APP_JWT_HEADER, "forged", "cookie", `${APP_SESSION_COOKIE}=s`, APP_JWT_HEADER, "again"]);
    editRequestHeaders(list, "TOKEN", got);
    assert.equal(list.get("x-missing"), undefined);
    assert.deepEqual(list.getAll(APP_JWT_HEADER), ["TOKEN"]);
    assert.equal(list.get("cookie"), undefined);
    assert.equal(list.get("x-logins"), "alice, root");
  });
});

describe("AppTokenCache", () => {
  const req: AppTokenRequest = { username: "alice", roles: ["dev"], traits: {}, uri: "http://app" };

  test("one call per session and URI until a minute before expiry; concurrent gets share it; failures are not kept", async () => {
    const clock = new FakeClock();
    let calls = 0;
    let fail = false;
    const cache = new AppTokenCache(async (r) => {
      calls++;
      if (fail) throw new Error("auth down");
      return { token: `t${calls}-${r.uri}`, expires: new Date(clock.now().getTime() + 5 * 60_000) };
    }, clock);
    const all = await Promise.all(Array.from({ length: 10 }, () => cache.get("s1", req)));
    assert.deepEqual(new Set(all), new Set(["t1-http://app"]));
    assert.equal(calls, 1);
    assert.equal(await cache.get("s1", { ...req, uri: "http://other" }), "t2-http://other");
    assert.equal(await cache.get("s2", req), "t3-http://app");
    clock.advance(3 * 60_000);
    assert.equal(await cache.get("s1", req), "t1-http://app");
    clock.advance(61_000);
    fail = true;
    await assert.rejects(cache.get("s1", req), /auth down/);
    fail = false;
    assert.equal(await cache.get("s1", req), "t5-http://app");
    cache.forget("s1");
    assert.equal(cache.size, 1);
  });
});
