import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { HeaderList, isSafeHeaderValue, stripHopByHop } from "./headers.ts";
import { locationRewriter } from "./redirect.ts";

describe("HeaderList", () => {
  test("keeps order, case and repeats; set replaces every value in place; edits apply remove, set, add", () => {
    const h = HeaderList.fromRaw(["Host", "a", "X-A", "1", "Set-Cookie", "x=1", "x-a", "2", "Set-Cookie", "y=2"]);
    assert.deepEqual(h.getAll("x-a"), ["1", "2"]);
    h.set("X-A", "3");
    assert.deepEqual(h.toRaw(), ["Host", "a", "X-A", "3", "Set-Cookie", "x=1", "Set-Cookie", "y=2"]);
    h.apply({ remove: ["set-cookie"], set: [["host", "b"]], add: [["X-A", "4"]] });
    assert.deepEqual(h.toRaw(), ["host", "b", "X-A", "3", "X-A", "4"]);
  });

  test("stripHopByHop removes the fixed list, Proxy-* and what Connection names", () => {
    const h = HeaderList.fromRaw([
      "Connection",
      "close, X-Foo",
      "connection",
      "x-bar",
      "X-Foo",
      "1",
      "X-Bar",
      "2",
      "Keep-Alive",
      "t",
      "TE",
      "trailers",
      "Trailer",
      "x",
      "Transfer-Encoding",
      "chunked",
      "Upgrade",
      "websocket",
      "Proxy-Authorization",
      "p",
      "Proxy-Connection",
      "k",
      "X-Keep",
      "y",
    ]);
    stripHopByHop(h);
    assert.deepEqual(h.toRaw(), ["X-Keep", "y"]);
  });

  test("values that would split a header are unsafe", () => {
    assert.equal(isSafeHeaderValue("a b"), true);
    assert.equal(isSafeHeaderValue("a\r\nX-Evil: 1"), false);
  });
});

describe("locationRewriter", () => {
  const rw = locationRewriter({ publicBase: "https://app.proxy.test", hosts: ["127.0.0.1:3000", "localhost"] });
  test("rewrites listed hosts (with or without port) and keeps the rest", () => {
    assert.equal(rw("http://127.0.0.1:3000/a?b=1#c"), "https://app.proxy.test/a?b=1#c");
    assert.equal(rw("http://localhost:8080/x"), "https://app.proxy.test/x");
    assert.equal(rw("https://idp.example.com/login"), undefined);
    assert.equal(rw("/relative"), undefined);
    assert.equal(rw("javascript:alert(1)"), undefined);
  });
});
