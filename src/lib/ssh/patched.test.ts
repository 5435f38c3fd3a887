import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import net from "node:net";
import { test } from "node:test";
import ssh2 from "ssh2";
import { generateEd25519, writeOpenSshPrivateKey } from "../crypto/index.ts";
import { CHANNEL_OPTIONS } from "./patched.ts";

interface Announced {
  /** What the client announced as its largest packet, as the server's channel sees it. */
  packetSize: number;
  /** The sizes of the data events the client got. */
  chunks: number[];
  sha256: string;
}

/** An ssh2 server that answers `exec` with `payload`, and an ssh2 client that reads it. */
async function transfer(payload: Buffer, serverOpts: object, clientOpts: object): Promise<Announced> {
  const hostKey = writeOpenSshPrivateKey(generateEd25519().privateKey);
  let packetSize = 0;
  const server = new ssh2.Server({ hostKeys: [hostKey], ...serverOpts }, (conn) => {
    conn.on("authentication", (ctx) => ctx.accept());
    conn.on("session", (accept) => {
      accept().on("exec", (acceptExec) => {
        const ch = acceptExec();
        packetSize = (ch as unknown as { outgoing: { packetSize: number } }).outgoing.packetSize;
        ch.end(payload, () => ch.exit(0));
      });
    });
  });
  const listener = net.createServer((s) => server.injectSocket(s));
  await new Promise<void>((r) => listener.listen(0, "127.0.0.1", r));
  const port = (listener.address() as net.AddressInfo).port;
  const client = new ssh2.Client();
  try {
    return await new Promise<Announced>((resolve, reject) => {
      client.on("error", reject);
      client.on("ready", () => {
        client.exec("x", (err, ch) => {
          if (err) return reject(err);
          const chunks: Buffer[] = [];
          ch.on("data", (d: Buffer) => chunks.push(d));
          ch.on("close", () => {
            const all = Buffer.concat(chunks);
            resolve({ packetSize, chunks: chunks.map((c) => c.length), sha256: createHash("sha256").update(all).digest("hex") });
          });
        });
      });
      client.connect({ host: "127.0.0.1", port, username: "u", password: "p", hostVerifier: () => true, ...clientOpts });
    });
  } finally {
    client.end();
    listener.close();
  }
}

// Pins patches/ssh2+*.patch: channel packets larger than ssh2's 32 KiB are announced, sent and read.
test("with CHANNEL_OPTIONS, ssh2 announces and carries packets larger than 32 KiB", async () => {
  const payload = randomBytes(1024 * 1024);
  const r = await transfer(payload, CHANNEL_OPTIONS, CHANNEL_OPTIONS);
  assert.equal(r.packetSize, CHANNEL_OPTIONS.channelPacketSize);
  assert.ok(Math.max(...r.chunks) > 35_000, `largest packet ${Math.max(...r.chunks)} bytes`);
  assert.equal(
    r.chunks.reduce((a, b) => a + b, 0),
    payload.length,
  );
  assert.equal(r.sha256, createHash("sha256").update(payload).digest("hex"));
});

test("without the options, ssh2 keeps its 32 KiB packets", async () => {
  const payload = randomBytes(256 * 1024);
  const r = await transfer(payload, {}, {});
  assert.equal(r.packetSize, 32 * 1024);
  assert.ok(Math.max(...r.chunks) <= 32 * 1024);
  assert.equal(r.sha256, createHash("sha256").update(payload).digest("hex"));
});
