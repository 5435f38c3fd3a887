import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { test } from "node:test";
import { decodeKubeHeader, encodeKubeHeader, MAX_KUBE_HEADER_BYTES } from "../../../api/kubewire.ts";
import { readStreamHeader, type StreamHeaderKind } from "./header.ts";

const KIND: StreamHeaderKind<ReturnType<typeof header>> = { decode: (b) => decodeKubeHeader(b), maxBytes: MAX_KUBE_HEADER_BYTES, label: "kube stream header" };
const header = () => ({ cert: "PEM", clientAddr: "192.0.2.1:4000", cluster: "dev" });

test("reads a header sent in pieces and puts back what followed it", async () => {
  const s = new PassThrough();
  const bytes = Buffer.concat([encodeKubeHeader(header()), Buffer.from("GET / HTTP/1.1\r\n")]);
  const got = readStreamHeader(s, KIND, 1_000);
  s.write(bytes.subarray(0, 5));
  s.write(bytes.subarray(5));
  assert.deepEqual(await got, header());
  assert.equal(String(s.read()), "GET / HTTP/1.1\r\n");
});

test("refuses a stream that says nothing in time, one that is not a header, and one too large", async () => {
  await assert.rejects(readStreamHeader(new PassThrough(), KIND, 20), /timed out waiting for the kube stream header/);
  const wrong = new PassThrough();
  const p = readStreamHeader(wrong, KIND, 1_000);
  wrong.write("GET / HTTP/1.1\r\n");
  await assert.rejects(p, /not a kube stream header/);
  const big = new PassThrough();
  const q = readStreamHeader(big, KIND, 1_000);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(MAX_KUBE_HEADER_BYTES + 1);
  big.write(Buffer.concat([Buffer.from("JGKB"), len]));
  await assert.rejects(q, /too large/);
  const closed = new PassThrough();
  const r = readStreamHeader(closed, KIND, 1_000);
  closed.end(Buffer.from("JG"));
  await assert.rejects(r, /stream closed before the kube stream header/);
});
