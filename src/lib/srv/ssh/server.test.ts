import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { Duplex } from "node:stream";
import { after, before, test } from "node:test";
import ssh2 from "ssh2";
import { FakeClock } from "../../../api/clock.ts";
import { formatCertificateLine, generateEd25519, knownHostsCaLine, parseSshPublicKey, publicKeysEqual, signUserCertificate } from "../../crypto/index.ts";
import { certificateKey } from "../../ssh/index.ts";
import { NO_CERTIFICATE } from "./errors.ts";
import { CLUSTER, type Kit, NODE, run, startKit } from "./ssh.test-helpers.ts";

let kit: Kit;
const ssh = (id: string[], login: string, ...rest: string[]) => [...kit.sshOpts(), ...id, "-p", String(kit.port), ...rest, `${login}@127.0.0.1`];

before(async () => {
  kit = await startKit({ authTimeoutMs: 1500 });
});
after(() => kit.close());

// Pins the kex.js/server.js part of patches/ssh2+*.patch: without it OpenSSH rejects the host certificate.
test("OpenSSH accepts the node's host certificate through a @cert-authority line (StrictHostKeyChecking=yes)", async () => {
  const r = await run("ssh", [...ssh(kit.identity("alice", ["root"]), "root", "-v"), "echo host-ok"]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, "host-ok\n");
  assert.match(r.stderr, /Server host certificate: ssh-ed25519-cert-v01@openssh\.com/);
  assert.match(r.stderr, /matches the ED25519-CERT host certificate/);
});

test("a client trusting another host CA refuses the node", async () => {
  const kh = join(kit.dir, "other_known_hosts");
  writeFileSync(kh, `${knownHostsCaLine(generateEd25519().publicKey, CLUSTER)}\n`);
  // OpenSSH takes the first value given for an option, so this one goes first.
  const r = await run("ssh", ["-o", `UserKnownHostsFile=${kh}`, ...ssh(kit.identity("alice", ["root"]), "root"), "true"]);
  assert.equal(r.status, 255);
  assert.match(r.stderr, /Host key verification failed/);
});

/** Runs ssh expecting a refusal; returns the one banner line and the audit event. */
async function refused(id: string[], login: string, user: string) {
  const before = kit.events.length;
  const r = await run("ssh", [...ssh(id, login), "true"]);
  assert.equal(r.status, 255, r.stderr);
  const lines = r.stderr.split(/\r?\n/).filter((l) => l.startsWith("jumpgate: access denied: "));
  assert.equal(lines.length, 1, `one clear line expected in: ${r.stderr}`);
  const ev = kit.events.slice(before).filter((e) => e.event === "auth");
  assert.equal(ev.length, 1, JSON.stringify(kit.events.slice(before)));
  const e = ev[0];
  assert.ok(e);
  assert.equal(e.success, false);
  assert.equal(e.user, user);
  assert.equal(e.login, login);
  assert.equal(e.addr_remote, "127.0.0.1");
  assert.equal(`jumpgate: access denied: ${String(e.error)}`, lines[0]);
  assert.match(r.stderr, /Permission denied/);
  return { line: lines[0] ?? "", event: e };
}

test("refused: a login that is not in the certificate", async () => {
  const { line } = await refused(kit.identity("carol", ["jgtest", "deploy"]), "root", "carol");
  assert.equal(line, 'jumpgate: access denied: login "root" is not in your certificate (its logins: jgtest, deploy)');
});

test("refused: the authorizer says no, and its reason is what the user reads", async () => {
  const reason = 'login "root" is not allowed on web-1 (no role allows login "root")';
  kit.authorizer.policies.set("mallory", { deny: reason });
  const { line } = await refused(kit.identity("mallory", ["root"]), "root", "mallory");
  assert.equal(line, `jumpgate: access denied: ${reason}`);
});

test("refused: an expired certificate", async () => {
  const clock = new FakeClock(new Date(Date.now() - 3 * 3600_000));
  const { line } = await refused(kit.identity("dave", ["root"], { clock, ttlMs: 3600_000 }), "root", "dave");
  assert.match(line, /certificate expired at /);
});

test("refused: a certificate from another cluster's CA", async () => {
  const { line } = await refused(kit.identity("eve", ["root"], { ca: generateEd25519().privateKey }), "root", "eve");
  assert.equal(line, "jumpgate: access denied: certificate signed by an unknown authority");
});

test("refused: a certificate pinned to other source addresses", async () => {
  const { line } = await refused(kit.identity("fay", ["root"], { sourceAddress: "10.1.0.0/16" }), "root", "fay");
  assert.match(line, /client address 127\.0\.0\.1 is not allowed/);
});

test("refused: a login that does not exist on the node", async () => {
  const { line } = await refused(kit.identity("gus", ["no-such-user-jg"]), "no-such-user-jg", "gus");
  assert.equal(line, `jumpgate: access denied: login "no-such-user-jg" does not exist on ${NODE}`);
});

test("refused: a plain key without a certificate", async () => {
  const { line } = await refused(kit.plainKey("plain"), "root", "");
  assert.equal(line, `jumpgate: access denied: ${NO_CERTIFICATE}`);
});

test("the authorizer is asked with the certificate's user, the login and the client address", async () => {
  kit.authorizer.calls.length = 0;
  const r = await run("ssh", [...ssh(kit.identity("hank", ["root"]), "root"), "true"]);
  assert.equal(r.status, 0, r.stderr);
  const call = kit.authorizer.calls.find((c) => c.user === "hank");
  assert.equal(call?.login, "root");
  assert.equal(call?.remoteAddr, "127.0.0.1");
  assert.equal(call?.cert.keyId, "hank");
});

/** Two connected in-memory streams; delivery is asynchronous, as on a real transport. */
function duplexPair(): [Duplex, Duplex] {
  const pair: Duplex[] = [];
  const make = (i: number) =>
    new Duplex({
      read() {},
      write(chunk: Buffer, _enc, cb) {
        setImmediate(() => pair[1 - i]?.push(chunk));
        cb();
      },
      final(cb) {
        setImmediate(() => pair[1 - i]?.push(null));
        cb();
      },
    });
  pair.push(make(0), make(1));
  const [a, b] = pair;
  if (!a || !b) throw new Error("unreachable");
  return [a, b];
}

test("handleConnection serves SSH over any stream (the reverse-tunnel path); ssh2 clients see the bare host key", async () => {
  const [client, server] = duplexPair();
  kit.service.handleConnection(server, { remoteAddr: "203.0.113.9:5555" });
  const key = generateEd25519();
  const cert = signUserCertificate({
    publicKey: key.publicKey,
    caKey: kit.userCa.privateKey,
    keyId: "ivy",
    principals: ["root"],
    ttlMs: 600_000,
    clock: new FakeClock(new Date()),
    permitPty: true,
    permitPortForwarding: true,
    permitAgentForwarding: true,
    permitX11Forwarding: false,
    roles: [],
    traits: {},
  });
  const out = await new Promise<string>((resolve, reject) => {
    const c = new ssh2.Client();
    c.on("error", reject);
    c.on("ready", () =>
      c.exec("echo via-stream $USER", (err, stream) => {
        if (err) return reject(err);
        let text = "";
        stream.on("data", (d: Buffer) => (text += d.toString()));
        stream.on("close", () => {
          c.end();
          resolve(text.trim());
        });
      }),
    );
    const auth: ssh2.PublicKeyAuthMethod = { type: "publickey", username: "root", key: certificateKey(key.privateKey, formatCertificateLine(cert)) };
    c.connect({
      sock: client,
      username: "root",
      authHandler: [auth],
      hostVerifier: (k: Buffer) => publicKeysEqual(parseSshPublicKey(k), kit.hostPublicKey),
    });
  });
  assert.equal(out, "via-stream root");
  const start = kit.events.find((e) => e.event === "session.start" && e.user === "ivy");
  assert.equal(start?.addr_remote, "203.0.113.9:5555");
});

test("a connection that does not authenticate in time is closed; an authenticated one is not", async () => {
  const t0 = Date.now();
  const closed = await new Promise<number>((resolve) => {
    const s = net.connect(kit.port, "127.0.0.1");
    s.on("data", () => undefined); // reads the server's ident, sends nothing
    s.on("error", () => undefined);
    s.on("close", () => resolve(Date.now() - t0));
  });
  assert.ok(closed >= 1400 && closed < 5000, `closed after ${closed} ms`);
  const r = await run("ssh", [...ssh(kit.identity("alice", ["root"]), "root"), "sleep 2; echo still-here"]);
  assert.equal(r.stdout, "still-here\n", r.stderr);
});

test("a signal request reaches the program; exit-signal comes back", async () => {
  const key = generateEd25519();
  const cert = signUserCertificate({
    publicKey: key.publicKey,
    caKey: kit.userCa.privateKey,
    keyId: "sig",
    principals: ["root"],
    ttlMs: 600_000,
    clock: new FakeClock(new Date()),
    permitPty: true,
    permitPortForwarding: false,
    permitAgentForwarding: false,
    permitX11Forwarding: false,
    roles: [],
    traits: {},
  });
  const exit = await new Promise<unknown[]>((resolve, reject) => {
    const c = new ssh2.Client();
    c.on("error", reject);
    c.on("ready", () =>
      c.exec("echo started; sleep 10", (err, stream) => {
        if (err) return reject(err);
        stream.on("data", () => stream.signal("TERM"));
        stream.on("exit", (...args: unknown[]) => {
          c.end();
          resolve(args);
        });
      }),
    );
    const auth: ssh2.PublicKeyAuthMethod = { type: "publickey", username: "root", key: certificateKey(key.privateKey, formatCertificateLine(cert)) };
    c.connect({ host: "127.0.0.1", port: kit.port, username: "root", authHandler: [auth], hostVerifier: () => true });
  });
  assert.equal(exit[0], null);
  assert.equal(exit[1], "SIGTERM"); // ssh2's client names signals with the prefix
});
