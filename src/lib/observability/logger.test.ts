import assert from "node:assert/strict";
import { test } from "node:test";
import { childLogger, createLogger } from "./logger.ts";
import { isSecretKey } from "./secrets.ts";

function capture(): { lines: string[]; records: () => Record<string, unknown>[]; write(s: string): void } {
  const lines: string[] = [];
  return {
    lines,
    write: (s: string) => {
      lines.push(s);
    },
    records: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

test("JSON lines with level names, time, component and child components", () => {
  const out = capture();
  const log = createLogger({ component: "jumpgate", destination: out });
  log.info({ user: "alice" }, "hello");
  log.debug("hidden at info level");
  const proxy = childLogger(log, "proxy", { conn: 7 });
  proxy.warn("from the proxy");
  childLogger(proxy, "proxy.mux").info("from the mux");
  const [a, b] = out.records();
  assert.equal(out.lines.length, 3);
  for (const l of out.lines) assert.equal(l.split('"component"').length, 2, `one component key: ${l}`);
  assert.equal(out.records()[2]?.component, "proxy.mux");
  assert.equal(out.records()[2]?.conn, 7);
  assert.equal(a?.level, "info");
  assert.equal(a?.msg, "hello");
  assert.equal(a?.component, "jumpgate");
  assert.equal(a?.user, "alice");
  assert.match(String(a?.time), /^\d{4}-\d\d-\d\dT/);
  assert.equal(b?.component, "proxy");
  assert.equal(b?.level, "warn");
});

test("debug turns on debug lines", () => {
  const out = capture();
  createLogger({ component: "x", debug: true, destination: out }).debug("shown");
  assert.equal(out.lines.length, 1);
});

test("secret-looking fields are redacted at any depth", () => {
  const out = capture();
  const log = createLogger({ component: "auth", destination: out });
  log.info(
    {
      password: "hunter2",
      otp: "123456",
      token: "join-token-value",
      req: { headers: { authorization: "Bearer abc.def", cookie: "session=xyz", "set-cookie": "s=1" } },
      deep: { a: { b: { private_key: "-----BEGIN PRIVATE KEY-----", clientSecret: "cs", keep: "visible" } } },
      list: [{ secret: "s3" }],
      user: "alice",
    },
    "login",
  );
  const line = out.lines.join("");
  for (const s of ["hunter2", "123456", "join-token-value", "abc.def", "session=xyz", "s=1", "BEGIN PRIVATE", '"cs"', '"s3"']) {
    assert.ok(!line.includes(s), `${s} leaked: ${line}`);
  }
  assert.match(line, /visible/);
  assert.match(line, /"user":"alice"/);
  assert.match(line, /\[REDACTED\]/);
});

test("the caller's object is not changed by redaction", () => {
  const out = capture();
  const obj = { password: "p", nested: { token: "t" } };
  createLogger({ component: "x", destination: out }).info(obj, "m");
  assert.deepEqual(obj, { password: "p", nested: { token: "t" } });
});

test("text format prints one readable line", () => {
  const out = capture();
  createLogger({ component: "proxy", format: "text", destination: out }).info({ addr: "1.2.3.4", password: "x" }, "listening");
  assert.equal(out.lines.length, 1);
  assert.match(out.lines[0] ?? "", /^\S+ INFO {2}\[proxy\] listening addr="1\.2\.3\.4" password="\[REDACTED\]"\n$/);
});

test("isSecretKey", () => {
  for (const k of ["password", "newPassword", "join-token", "X-Api-Key", "private_key", "Authorization", "otp", "client_secret"]) {
    assert.ok(isSecretKey(k), k);
  }
  for (const k of ["user", "footprint", "public_key", "login", "addr", "http_options"]) assert.ok(!isSecretKey(k), k);
});
