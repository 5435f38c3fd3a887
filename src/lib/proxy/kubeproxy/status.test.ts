import assert from "node:assert/strict";
import { test } from "node:test";
import { kubeStatusResponse, MAX_REFUSED_HEAD_BYTES, scanRequestHead, warningValue } from "./status.ts";

test("the refusal is one HTTP/1.1 response with a Kubernetes Status and Connection: close", () => {
  const raw = kubeStatusResponse(403, 'user alice is locked: "audit"').toString("utf8");
  const [head, body] = raw.split("\r\n\r\n");
  assert.equal(
    head,
    [
      "HTTP/1.1 403 Forbidden",
      "Content-Type: application/json",
      'Warning: 299 - "user alice is locked: \\"audit\\""',
      `Content-Length: ${Buffer.byteLength(body ?? "")}`,
      "Cache-Control: no-store",
      "Connection: close",
    ].join("\r\n"),
  );
  assert.deepEqual(JSON.parse(body ?? ""), {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message: 'user alice is locked: "audit"',
    reason: "Forbidden",
    code: 403,
  });
  assert.match(kubeStatusResponse(401, "x").toString(), /^HTTP\/1\.1 401 Unauthorized\r\n[\s\S]*"reason":"Unauthorized","code":401}$/);
  const utf8 = kubeStatusResponse(503, "é").toString("utf8");
  assert.match(utf8, /^HTTP\/1\.1 503 Service Unavailable\r\n[\s\S]*"reason":"ServiceUnavailable"/);
  assert.equal(utf8.match(/Content-Length: (\d+)/)?.[1], String(Buffer.byteLength(utf8.split("\r\n\r\n")[1] ?? "")), "bytes, not characters");
});

test("the request head: waits for its end, reads the request line without the query, gives up on junk or a huge head", () => {
  assert.deepEqual(scanRequestHead(Buffer.from("GET /api?timeout=32s HTTP/1.1\r\nHost: x\r\n")), { kind: "need-more" });
  assert.deepEqual(scanRequestHead(Buffer.from("GET /api?timeout=32s HTTP/1.1\r\nHost: x\r\n\r\n")), { kind: "done", request: { verb: "GET", path: "/api" } });
  assert.deepEqual(scanRequestHead(Buffer.from("POST /api/v1/namespaces/default/pods HTTP/1.1\r\n\r\n{}")), {
    kind: "done",
    request: { verb: "POST", path: "/api/v1/namespaces/default/pods" },
  });
  assert.deepEqual(scanRequestHead(Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")), { kind: "done" });
  assert.deepEqual(scanRequestHead(Buffer.alloc(MAX_REFUSED_HEAD_BYTES, 0x41)), { kind: "done" });
});

test("the Warning header kubectl prints: printable ASCII, quotes and backslashes escaped, bounded", () => {
  assert.equal(warningValue("no client certificate: run jsh kube login CLUSTER"), '299 - "no client certificate: run jsh kube login CLUSTER"');
  assert.equal(warningValue('a "b" \\ c\r\nd é'), '299 - "a \\"b\\" \\\\ c??d ?"');
  assert.equal(warningValue("x".repeat(5000)).length, 1024 + 8);
});
