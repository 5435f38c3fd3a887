import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import net from "node:net";
import { after, before, test } from "node:test";
import tls from "node:tls";
import { cleanup, type Daemon, startDaemon } from "../harness/cluster.ts";
import { type LoggedIn, userLoggedIn } from "../harness/users.ts";

let d: Daemon;
let u: LoggedIn;
let node = "";

before(async () => {
  d = await startDaemon();
  u = await userLoggedIn(d, "abuse", "access", "root");
  node = (JSON.parse((await u.jsh(["ls", "--format=json"])).stdout) as { hostname: string }[])[0]?.hostname ?? "";
});
after(async () => {
  await d?.stop();
  cleanup(d?.dataDir ?? "", u?.home ?? "");
});

const [host, port] = [() => "127.0.0.1", () => Number(d.proxyAddr.split(":")[1])];

function closedWithin(s: net.Socket, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    s.once("close", () => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

test("garbage, unknown ALPN and 200 idle connections do not disturb a concurrent jsh ssh", async () => {
  const idle: net.Socket[] = [];
  for (let i = 0; i < 200; i++) {
    const s = net.connect(port(), host());
    s.on("error", () => undefined);
    idle.push(s);
  }
  const garbage = net.connect(port(), host());
  garbage.on("error", () => undefined);
  garbage.write(randomBytes(4096));
  const garbageClosed = closedWithin(garbage, 5_000);

  const alpn = tls.connect({ host: host(), port: port(), ALPNProtocols: ["no-such-protocol"], rejectUnauthorized: false });
  const alpnRefused = new Promise<string>((resolve) => {
    alpn.once("error", (e) => resolve(e.message));
    alpn.once("secureConnect", () => resolve("connected"));
  });

  const slow = net.connect(port(), host());
  slow.on("error", () => undefined);
  slow.write("SSH-2.0-slow"); // a slow-loris that never finishes its line

  const r = await u.jsh(["ssh", `root@${node}`, "echo still-served"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), "still-served");
  assert.ok(await garbageClosed, "garbage is closed at once");
  assert.match(await alpnRefused, /no application protocol|alert|socket hang up|ECONNRESET/i);
  // Idle connections are closed after the handshake deadline (10 s), not kept forever.
  const firstIdle = idle[0];
  assert.ok(firstIdle);
  assert.ok(await closedWithin(firstIdle, 15_000), "idle connections hit the handshake deadline");
  for (const s of idle) s.destroy();
  slow.destroy();
  const again = await u.jsh(["ssh", `root@${node}`, "echo after"]);
  assert.equal(again.stdout.trim(), "after");
});
