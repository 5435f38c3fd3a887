import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import net from "node:net";
import { describe, test } from "node:test";
import tls from "node:tls";
import { parseClientHello } from "./clienthello.ts";

/** The first bytes a real client sends to a listener that never answers (its ClientHello). */
async function capture(start: (port: number) => { kill(): void } | undefined): Promise<Buffer> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as net.AddressInfo).port;
  try {
    const got = new Promise<Buffer>((resolve, reject) => {
      server.once("connection", (s) => {
        let buf = Buffer.alloc(0);
        s.on("data", (c: Buffer) => {
          buf = Buffer.concat([buf, c]);
          const r = parseClientHello(buf);
          if (r.kind !== "need-more") {
            s.destroy();
            resolve(buf);
          }
        });
      });
      setTimeout(() => reject(new Error("no ClientHello")), 10_000).unref();
    });
    const child = start(port);
    const buf = await got;
    child?.kill();
    return buf;
  } finally {
    server.close();
  }
}

const program = (cmd: string, args: string[]) => {
  const c = spawn(cmd, args, { stdio: "ignore" });
  c.on("error", () => undefined);
  return { kill: () => c.kill("SIGKILL") };
};

describe("ClientHello SNI and ALPN", () => {
  test("node's TLS client (SNI and ALPN)", async () => {
    const buf = await capture((port) => {
      const s = tls.connect({ host: "127.0.0.1", port, servername: "kube.example.com", ALPNProtocols: ["h2", "http/1.1"] });
      s.on("error", () => undefined);
      return { kill: () => s.destroy() };
    });
    assert.deepEqual(parseClientHello(buf), { kind: "ok", serverName: "kube.example.com", alpn: ["h2", "http/1.1"] });
  });

  test("curl, as kubectl-like clients send it (SNI from the URL)", async () => {
    const buf = await capture((port) =>
      program("curl", ["-sk", "--max-time", "5", "--resolve", `kube.localhost:${port}:127.0.0.1`, `https://kube.localhost:${port}/`]),
    );
    const r = parseClientHello(buf);
    assert.equal(r.kind, "ok");
    assert.equal(r.kind === "ok" && r.serverName, "kube.localhost");
    assert.ok(r.kind === "ok" && r.alpn.includes("http/1.1"));
  });

  test("openssl s_client without SNI (an IP address)", async () => {
    const buf = await capture((port) => program("openssl", ["s_client", "-connect", `127.0.0.1:${port}`, "-noservername", "-alpn", "jumpgate-kube"]));
    assert.deepEqual(parseClientHello(buf), { kind: "ok", alpn: ["jumpgate-kube"] });
  });

  test("a ClientHello split across records and TCP segments", async () => {
    const buf = await capture((port) => {
      const s = tls.connect({ host: "127.0.0.1", port, servername: "a.b.c", ALPNProtocols: ["http/1.1"] });
      s.on("error", () => undefined);
      return { kill: () => s.destroy() };
    });
    for (let i = 0; i < buf.length; i++) assert.deepEqual(parseClientHello(buf.subarray(0, i)), { kind: "need-more" }, `prefix ${i}`);
    // The same handshake message in two records.
    const body = buf.subarray(5, 5 + buf.readUInt16BE(3));
    const rec = (b: Buffer) => Buffer.concat([Buffer.from([0x16, 3, 1, b.length >> 8, b.length & 0xff]), b]);
    const split = Buffer.concat([rec(body.subarray(0, 40)), rec(body.subarray(40))]);
    assert.deepEqual(parseClientHello(split), { kind: "ok", serverName: "a.b.c", alpn: ["http/1.1"] });
  });

  test("garbage is refused, never thrown on, never waited for forever", () => {
    assert.equal(parseClientHello(Buffer.from("GET / HTTP/1.1\r\n")).kind, "invalid");
    assert.equal(parseClientHello(Buffer.from([0x16, 3, 1, 0, 0])).kind, "invalid");
    assert.equal(parseClientHello(Buffer.from([0x16, 3, 1, 0, 4, 2, 0, 0, 0])).kind, "invalid");
    for (let i = 0; i < 20_000; i++) {
      const b = randomBytes(1 + (i % 300));
      if (i % 2 === 0) b[0] = 0x16;
      const r = parseClientHello(b);
      assert.ok(["need-more", "invalid", "ok"].includes(r.kind));
    }
    // A record claiming a huge handshake is refused once the cap is passed.
    const big = Buffer.concat([Buffer.from([0x16, 3, 1, 0x40, 0, 1, 0xff, 0xff, 0xff]), Buffer.alloc(0x4000 - 4)]);
    assert.equal(parseClientHello(big).kind, "invalid");
  });

  test("mutations of a real ClientHello never throw", async () => {
    const buf = await capture((port) => {
      const s = tls.connect({ host: "127.0.0.1", port, servername: "kube.example.com", ALPNProtocols: ["h2"] });
      s.on("error", () => undefined);
      return { kill: () => s.destroy() };
    });
    for (let i = 0; i < 10_000; i++) {
      const m = Buffer.from(buf);
      for (let k = 0; k < 1 + (i % 4); k++) m[Math.floor(Math.random() * m.length)] = Math.floor(Math.random() * 256);
      const r = parseClientHello(m);
      assert.ok(["need-more", "invalid", "ok"].includes(r.kind));
    }
  });
});
