import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import type { Duplex } from "node:stream";
import { after, before, test } from "node:test";
import tls from "node:tls";
import ssh2 from "ssh2";
import { run, tempDir } from "../../../../test/harness/cluster.ts";
import { type Sshd, startSshd } from "../../../../test/harness/sshd.ts";
import { systemClock } from "../../../api/clock.ts";
import { ALPN } from "../../../api/constants.ts";
import { generateEd25519, knownHostsCaLine, trustedUserCaKeysLine, writeOpenSshPrivateKey } from "../../crypto/index.ts";
import type { AuditEventInput } from "../../events/index.ts";
import { certificateKey } from "../../ssh/index.ts";
import { ReverseTunnelAgent } from "../../tunnel/index.ts";
import { Multiplexer } from "../mux.ts";
import { CLUSTER, hostIdentity, testLog, testTls, type UserIdentity, userIdentity, waitFor } from "../proxy.test-helpers.ts";
import { relay } from "../relay.ts";
import { TunnelServer } from "../reversetunnel/index.ts";
import { ProxySshServer, type ProxyUser, type ResolvedNode, tunnelOrDirectDialer } from "./index.ts";

const log = testLog();
const userCa = generateEd25519();
const hostCa = generateEd25519();
const audit: AuditEventInput[] = [];
const routed: { user: string; node: string }[] = [];
const dir = tempDir("jg-sshproxy-");
let sshd: Sshd;
let mux: Multiplexer;
let port: number;
let tlsCa: string;
let tunnels: TunnelServer;
let agent: ReverseTunnelAgent;
let alice: UserIdentity;

function nodes(): Record<string, ResolvedNode> {
  const direct = { addr: `127.0.0.1:${sshd.port}`, viaTunnel: false, labels: { env: "test" } };
  return {
    target: { hostId: "uuid-target", name: "target", ...direct },
    forbidden: { hostId: "uuid-forbidden", name: "forbidden", ...direct },
    tunneled: { hostId: "uuid-tunneled", name: "tunneled", viaTunnel: true, labels: {} },
    offline: { hostId: "uuid-offline", name: "offline", viaTunnel: true, labels: {} },
  };
}

before(async () => {
  writeFileSync(join(dir, "user_ca.pub"), `${trustedUserCaKeysLine(userCa.publicKey)}\n`);
  writeFileSync(join(dir, "known_hosts"), `${knownHostsCaLine(hostCa.publicKey, CLUSTER)}\n`);
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(dir, "host_key")]);
  sshd = await startSshd(dir, [
    `HostKey ${join(dir, "host_key")}`,
    `TrustedUserCAKeys ${join(dir, "user_ca.pub")}`,
    "AuthorizedKeysFile none",
    "PermitRootLogin prohibit-password",
  ]);
  const t = await testTls();
  tlsCa = t.ca;
  tunnels = new TunnelServer({ hostKey: generateEd25519().privateKey, trustedHostCaKeys: () => [hostCa.publicKey], clock: systemClock, log });
  const proxy = new ProxySshServer({
    // Presented as a certificate once ssh2's server side can (kex.js patch); as the bare key until then.
    ...hostIdentity(hostCa, "proxy"),
    trustedUserCaKeys: () => [userCa.publicKey],
    resolveNode: async (host) => Object.values(nodes()).find((n) => n.name === host || n.hostId === host),
    authorizeRoute: async (user: ProxyUser, node) => {
      routed.push({ user: user.name, node: node.name });
      return node.name === "forbidden" ? { allowed: false, reason: "no role grants access to nodes labelled env=test" } : { allowed: true };
    },
    dialer: tunnelOrDirectDialer(tunnels),
    audit: (e) => audit.push(e),
    clock: systemClock,
    log,
    clusterName: CLUSTER,
    loginTimeoutMs: 1500,
  });
  mux = new Multiplexer({ tls: t, log, handshakeTimeoutMs: 2000 });
  mux.handleRaw("ssh", (s, info) => proxy.handleConnection(s, info));
  mux.handleAlpn(ALPN.ssh, (s, info) => proxy.handleConnection(s, info));
  mux.handleAlpn(ALPN.reverseTunnel, (s, info) => tunnels.handle(s, info));
  port = (await mux.listen("127.0.0.1", 0)).port;

  agent = new ReverseTunnelAgent({
    proxyAddr: `127.0.0.1:${port}`,
    tls: { insecure: false, cas: [tlsCa], serverName: "localhost" },
    hostId: "uuid-tunneled",
    ...hostIdentity(hostCa, "uuid-tunneled"),
    onDial: (stream) => {
      const local = net.connect(sshd.port, "127.0.0.1");
      local.setNoDelay(true);
      relay(stream, local);
    },
    clock: systemClock,
    log,
  }).start();

  alice = userIdentity(userCa, "alice");
  writeUserFiles("alice", alice);
  writeUserFiles("mallory", userIdentity(generateEd25519(), "mallory"));
  await waitFor(() => agent.connected, 5000, "the node's agent");
});

after(async () => {
  await agent.close();
  tunnels.close();
  await mux.close();
  await sshd.stop();
  rmSync(dir, { recursive: true, force: true });
});

function writeUserFiles(name: string, id: UserIdentity): void {
  writeFileSync(join(dir, name), writeOpenSshPrivateKey(id.key.privateKey), { mode: 0o600 });
  writeFileSync(join(dir, `${name}-cert.pub`), `${id.certificate}\n`);
  // OpenSSH checks the proxy's host certificate against the host CA (principal proxy.CLUSTER);
  // the nodes behind it are test sshds with throwaway keys.
  const config = [
    "Host 127.0.0.1",
    `  HostKeyAlias proxy.${CLUSTER}`,
    "  StrictHostKeyChecking yes",
    `  UserKnownHostsFile ${join(dir, "known_hosts")}`,
    "Host *",
    `  IdentityFile ${join(dir, name)}`,
    `  CertificateFile ${join(dir, `${name}-cert.pub`)}`,
    "  IdentitiesOnly yes",
    "  IdentityAgent none",
    "  StrictHostKeyChecking no",
    "  UserKnownHostsFile /dev/null",
    "  GlobalKnownHostsFile /dev/null",
    "  BatchMode yes",
    "  ConnectTimeout 10",
    "  KexAlgorithms curve25519-sha256",
    "",
  ];
  writeFileSync(join(dir, `${name}.config`), config.join("\n"));
}

/** `ssh -J root@proxy root@HOST echo ok` with OpenSSH, as `user`. */
function sshJump(host: string, user = "alice"): Promise<{ code: number; stdout: string; stderr: string }> {
  return run("ssh", ["-F", join(dir, `${user}.config`), "-J", `root@127.0.0.1:${port}`, `root@${host}`, "echo", "ok"], { timeoutMs: 20_000 });
}

test("ssh -J through the proxy to a directly dialled sshd", async () => {
  const r = await sshJump("target");
  assert.equal(r.stdout.trim(), "ok", r.stderr);
  assert.equal(r.code, 0);
  const ev = audit.find((e) => e.event === "port" && e.success === true);
  assert.equal(ev?.user, "alice");
  assert.equal(ev?.server_id, "uuid-target");
  assert.equal(ev?.addr, "target:22");
});

test("ssh -J through the proxy and a reverse tunnel, by host id and by NAME.CLUSTER", async () => {
  for (const host of ["uuid-tunneled", `tunneled.${CLUSTER}`]) {
    const r = await sshJump(host);
    assert.equal(r.stdout.trim(), "ok", `${host}: ${r.stderr}`);
  }
});

test("bulk data both ways through the tunnel arrives intact (half-close passes through)", async () => {
  const upload = randomBytes(3 * 1024 * 1024).toString("base64");
  const want = createHash("sha256").update(upload).digest("hex");
  const args = ["-F", join(dir, "alice.config"), "-J", `root@127.0.0.1:${port}`, "root@tunneled"];
  const up = await run("ssh", [...args, "sha256sum"], { input: upload, timeoutMs: 30_000 });
  assert.equal(up.stdout.split(" ")[0], want, up.stderr);
  const down = await run("ssh", [...args, "head -c 8000000 /dev/zero | tr '\\0' a"], { timeoutMs: 30_000 });
  assert.equal(down.stdout.length, 8_000_000, down.stderr);
  assert.ok(/^a+$/.test(down.stdout));
});

test("refused routes say why, and are audited", async (t) => {
  const denied = await sshJump("forbidden");
  t.diagnostic(`ssh -J to a forbidden node: ${denied.stderr.trim()}`);
  assert.notEqual(denied.code, 0);
  assert.match(denied.stderr, /administratively prohibited: access to node "forbidden" denied: no role grants access to nodes labelled env=test/);
  const unknown = await sshJump("nosuch");
  assert.match(unknown.stderr, /node "nosuch" not found/);
  const offline = await sshJump("offline");
  assert.match(offline.stderr, /cannot reach node "offline": node uuid-offline is not connected to this proxy/);
  const failures = audit.filter((e) => e.event === "port" && e.success === false).map((e) => e.error);
  assert.equal(failures.length, 3);
  assert.ok(!routed.some((r) => r.node === "nosuch"));
});

test("a user certificate from another CA cannot log in to the proxy", async () => {
  const r = await sshJump("target", "mallory");
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /Permission denied/);
  const ev = audit.find((e) => e.event === "auth" && e.user === "mallory");
  assert.equal(ev?.success, false);
  assert.match(String(ev?.error), /unknown authority/);
});

/** Logs in to the proxy over TLS (`jumpgate-ssh`) with ssh2 and opens the subsystem. */
async function subsystem(name: string): Promise<{ client: ssh2.Client; stream: ssh2.ClientChannel }> {
  const sock = tls.connect({ host: "127.0.0.1", port, ALPNProtocols: [ALPN.ssh], ca: [tlsCa], servername: "localhost" });
  const client = new ssh2.Client();
  await new Promise<void>((resolve, reject) => {
    client.once("ready", () => resolve()).once("error", reject);
    const auth: ssh2.PublicKeyAuthMethod = { type: "publickey", username: "root", key: certificateKey(alice.key.privateKey, alice.certificate) };
    sock.once("secureConnect", () => client.connect({ sock, username: "root", authHandler: [auth] }));
  });
  const stream = await new Promise<ssh2.ClientChannel>((resolve, reject) => client.subsys(name, (err, s) => (err ? reject(err) : resolve(s))));
  return { client, stream };
}

test("the proxy:HOST:PORT subsystem over TLS carries an SSH session to the node", async () => {
  const { client, stream } = await subsystem(`proxy:target.${CLUSTER}:22@${CLUSTER}`);
  try {
    const inner = new ssh2.Client();
    const out = await new Promise<string>((resolve, reject) => {
      inner.once("error", reject).once("ready", () =>
        inner.exec("echo sub-ok", (err, ch) => {
          if (err) return reject(err);
          let text = "";
          ch.on("data", (d: Buffer) => (text += d.toString())).on("close", () => resolve(text.trim()));
        }),
      );
      const auth: ssh2.PublicKeyAuthMethod = { type: "publickey", username: "root", key: certificateKey(alice.key.privateKey, alice.certificate) };
      inner.connect({ sock: stream as unknown as Duplex, username: "root", authHandler: [auth] });
    });
    assert.equal(out, "sub-ok");
    inner.end();
  } finally {
    client.end();
  }
});

test("a refused subsystem route prints the reason and exits 1", async () => {
  const { client, stream } = await subsystem("proxy:forbidden:22");
  try {
    const { stderr, code } = await new Promise<{ stderr: string; code: number | undefined }>((resolve) => {
      let text = "";
      let exit: number | undefined;
      stream.stderr.on("data", (d: Buffer) => (text += d.toString()));
      stream.on("exit", (c: number) => (exit = c));
      stream.on("close", () => resolve({ stderr: text, code: exit }));
      stream.resume();
    });
    assert.match(stderr, /^ERROR: access to node "forbidden" denied: no role grants access/);
    assert.equal(code, 1);
    const other = await subsystem("proxy:target:22@other-cluster");
    let text = "";
    other.stream.stderr.on("data", (d: Buffer) => (text += d.toString()));
    await new Promise((r) => other.stream.on("close", r).resume());
    assert.match(text, /cluster "other-cluster" is not reachable/);
    other.client.end();
  } finally {
    client.end();
  }
});

test("garbage and half-open connections do not disturb the proxy", async () => {
  const closedWithin = (payload: Buffer | undefined, ms: number) =>
    new Promise<number>((resolve) => {
      const start = Date.now();
      const s = net.connect(port, "127.0.0.1", () => {
        if (payload) s.write(payload);
      });
      s.on("error", () => {});
      s.on("close", () => resolve(Date.now() - start));
      setTimeout(() => s.destroy(), ms);
      s.resume();
    });
  const junk = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256));
  const results = await Promise.all([
    closedWithin(Buffer.concat([Buffer.from("SSH-2.0-junk\r\n"), junk]), 5000),
    closedWithin(Buffer.from("SSH-2.0-silent\r\n"), 5000),
    closedWithin(Buffer.from("SSH-2.0-"), 5000),
    ...Array.from({ length: 20 }, () => closedWithin(Buffer.concat([Buffer.from("SSH-2.0-x\r\n"), junk.subarray(0, 64)]), 5000)),
  ]);
  assert.ok(
    results.every((ms) => ms < 4000),
    `all closed by the proxy: ${results.join(",")}`,
  );
  // A TLS client on the jumpgate-ssh route that sends garbage.
  await new Promise<void>((resolve) => {
    const s = tls.connect({ host: "127.0.0.1", port, ALPNProtocols: [ALPN.ssh], ca: [tlsCa], servername: "localhost" }, () => s.write(junk));
    s.on("error", () => {});
    s.on("close", () => resolve());
    s.resume();
  });
  const r = await sshJump("target");
  assert.equal(r.stdout.trim(), "ok", r.stderr);
});
