import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { encodeV1, encodeV2, V2_SIGNATURE } from "../../src/lib/proxy/proxyprotocol/index.ts";
import { cleanup, type Daemon, run, startDaemon, tempDir } from "../harness/cluster.ts";
import { eventually, type LoggedIn, userLoggedIn } from "../harness/users.ts";

/**
 * A load balancer in front of the proxy. All of 127/8 is local, so the
 * "balancer" connects from 127.0.0.2, the only trusted address, while the
 * cluster's own traffic (jsh, the node's reverse tunnel) comes from 127.0.0.1,
 * which is not trusted: a header from there is refused, plain connections work.
 */
const LB = "127.0.0.2";

let d: Daemon;
let u: LoggedIn;
let node = "";
const work = tempDir("pp");
const port = () => Number(d.proxyAddr.split(":")[1]);
const jctl = (...args: string[]) => run("jctl", ["--data-dir", d.dataDir, ...args]);

before(async () => {
  const config = join(work, "jumpgate.yaml");
  writeFileSync(
    config,
    ["auth_service: {cluster_name: test.local}", `proxy_service: {trusted_proxy_protocol_addrs: ["${LB}/32"]}`, "ssh_service: {}", ""].join("\n"),
  );
  d = await startDaemon({ config });
  u = await userLoggedIn(d, "balanced", "access", "root");
  node = (JSON.parse((await u.jsh(["ls", "--format=json"])).stdout) as { hostname: string }[])[0]?.hostname ?? "";
  assert.ok(node, "the process runs a node");
  // The balancer: connects from LB, writes the header given in hex, then relays stdin/stdout (OpenSSH's ProxyCommand).
  writeFileSync(
    join(work, "lb.mjs"),
    `import net from "node:net";
const [header, port] = process.argv.slice(2);
const s = net.connect({ host: "127.0.0.1", port: Number(port), localAddress: "${LB}" }, () => {
  s.write(Buffer.from(header, "hex"));
  process.stdin.pipe(s);
  s.pipe(process.stdout);
});
s.on("error", (e) => { process.stderr.write(String(e) + "\\n"); process.exit(1); });
s.on("close", () => process.exit(0));
`,
  );
});
after(async () => {
  await d?.stop();
  cleanup(d?.dataDir ?? "", work, u?.home ?? "");
});

/** An OpenSSH config that jumps through the proxy's plain-SSH door via the balancer, with `header` in front. */
async function sshThroughBalancer(header: Buffer, command: string) {
  const c = await u.jsh(["config"]);
  assert.equal(c.code, 0, c.stderr);
  const field = (name: string) => new RegExp(`${name} "([^"]+)"`).exec(c.stdout)?.[1] ?? "";
  const [key, cert, known] = [field("IdentityFile"), field("CertificateFile"), field("UserKnownHostsFile")];
  // The CA line, widened to the proxy's own address (the jump host).
  const ca = readFileSync(known, "utf8")
    .split("\n")
    .filter((l) => l.startsWith("@cert-authority "))
    .map((l) => l.split(" ").slice(2).join(" "));
  const knownHosts = join(work, "known_hosts");
  writeFileSync(knownHosts, ca.map((k) => `@cert-authority [127.0.0.1]:${port()},*.test.local ${k}\n`).join(""));
  const cfg = join(work, "ssh_config");
  writeFileSync(
    cfg,
    [
      "Host lb *.test.local",
      `    User ${u.name}`,
      `    IdentityFile "${key}"`,
      `    CertificateFile "${cert}"`,
      "    IdentitiesOnly yes",
      `    UserKnownHostsFile "${knownHosts}"`,
      "    StrictHostKeyChecking yes",
      "    KexAlgorithms curve25519-sha256",
      "Host lb",
      "    HostName 127.0.0.1",
      `    Port ${port()}`,
      `    ProxyCommand "${process.execPath}" "${join(work, "lb.mjs")}" ${header.toString("hex")} %p`,
      "",
    ].join("\n"),
  );
  return run("ssh", ["-F", cfg, "-o", "BatchMode=yes", "-J", "lb", `root@${node}.test.local`, command], { timeoutMs: 30_000 });
}

interface AuditEvent {
  event: string;
  addr_remote?: string;
  "addr.remote"?: string;
}

async function eventsFrom(host: string): Promise<AuditEvent[]> {
  const r = await jctl("audit", "events", "--format=json");
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as AuditEvent[]).filter((e) => (e.addr_remote ?? e["addr.remote"] ?? "").startsWith(host));
}

test("OpenSSH through a balancer sending a v1 header: the audit log names the client from the header", async () => {
  const header = encodeV1({ source: { address: "203.0.113.71", port: 40001 }, destination: { address: "10.0.0.1", port: 443 } });
  const r = await sshThroughBalancer(header, "echo via-v1");
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), "via-v1");
  await eventually(
    async () => {
      const kinds = new Set((await eventsFrom("203.0.113.71:40001")).map((e) => e.event));
      // The proxy's route (ssh -J) and the node's exec both carry the real client.
      return kinds.has("port") && kinds.has("exec");
    },
    10_000,
    "audit events with the v1 client address",
  );
});

test("a v2 header with an IPv6 client, and TLVs", async () => {
  const header = encodeV2({
    source: { address: "2001:db8::71", port: 40002 },
    destination: { address: "2001:db8::1", port: 443 },
    tlvs: Buffer.from([0x04, 0x00, 0x03, 0x00, 0x00, 0x00]),
  });
  const r = await sshThroughBalancer(header, "echo via-v2");
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), "via-v2");
  await eventually(async () => (await eventsFrom("2001:db8::71")).some((e) => e.event === "exec"), 10_000, "audit events with the v2 client address");
});

/** Connects from `from`, writes `data`, and resolves with what came back before the proxy closed (or "" when it did not say anything). */
function probe(from: string, data: Buffer, waitMs = 3_000): Promise<{ reply: string; closed: boolean }> {
  return new Promise((resolve) => {
    const s = net.connect({ host: "127.0.0.1", port: port(), localAddress: from }, () => s.write(data));
    let reply = "";
    s.on("data", (b: Buffer) => {
      reply += b.toString("latin1");
      if (reply.includes("\n")) {
        s.destroy();
        resolve({ reply, closed: false });
      }
    });
    s.on("error", () => undefined);
    s.on("close", () => resolve({ reply, closed: true }));
    setTimeout(() => {
      s.destroy();
      resolve({ reply, closed: false });
    }, waitMs);
  });
}

test("a header from an untrusted address is refused while plain connections from it work; a trusted address must send one", async () => {
  const header = encodeV1({ source: { address: "203.0.113.9", port: 1 }, destination: { address: "10.0.0.1", port: 2 } });
  const spoofed = await probe("127.0.0.1", Buffer.concat([header, Buffer.from("SSH-2.0-spoof\r\n")]));
  assert.deepEqual(spoofed, { reply: "", closed: true });
  const plain = await probe("127.0.0.1", Buffer.from("SSH-2.0-plain\r\n"));
  assert.match(plain.reply, /^SSH-2\.0-/);
  const bare = await probe(LB, Buffer.from("SSH-2.0-no-header\r\n"));
  assert.deepEqual(bare, { reply: "", closed: true });
  // The same client behind the balancer is served.
  const proxied = await probe(LB, Buffer.concat([header, Buffer.from("SSH-2.0-ok\r\n")]));
  assert.match(proxied.reply, /^SSH-2\.0-/);
  const r = await u.jsh(["ssh", `root@${node}`, "echo plain-ok"]);
  assert.equal(r.stdout.trim(), "plain-ok", r.stderr);
});

test("garbage after a valid v2 signature is refused without disturbing a concurrent session", async () => {
  const concurrent = u.jsh(["ssh", `root@${node}`, "sleep 2; echo concurrent-ok"]);
  await new Promise((r) => setTimeout(r, 500));
  const garbage = await Promise.all([
    probe(LB, Buffer.concat([V2_SIGNATURE, Buffer.from("\x21\x11\xff\xff garbage that is not an address")])),
    probe(LB, Buffer.concat([V2_SIGNATURE, Buffer.from("\x99 nonsense")])),
    probe(LB, Buffer.from(`PROXY TCP4 1.2.3.4 5.6.7.8 1 ${"9".repeat(120)}`)),
  ]);
  for (const g of garbage.slice(1)) assert.deepEqual(g, { reply: "", closed: true });
  // A length of 65535 with too little behind it waits for more, then meets the handshake deadline.
  assert.equal(garbage[0]?.reply, "");
  const r = await concurrent;
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), "concurrent-ok");
  assert.ok(!/uncaught|TypeError|RangeError/i.test(d.stderr()), "the daemon logged no crash");
});
