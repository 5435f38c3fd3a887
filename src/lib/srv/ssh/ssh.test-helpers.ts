/**
 * For this folder's tests: CAs, a host certificate, an SshService on
 * 127.0.0.1, user certificates written to a temp dir, and the real OpenSSH
 * client run against it. Not part of the public surface.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import type { KeyObject } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { type Clock, systemClock } from "../../../api/clock.ts";
import type { StoredResource } from "../../../api/resource.ts";
import {
  formatCertificateLine,
  generateEd25519,
  type KeyPair,
  knownHostsCaLine,
  signHostCertificate,
  signUserCertificate,
  writeOpenSshPrivateKey,
} from "../../crypto/index.ts";
import type { AuthorizeRequest, JoinAuthorizeRequest, JoinDecision, NodeAuthorizer, SessionPolicy } from "./authorizer.ts";
import { SshService } from "./server.ts";
import type { RecorderFactory } from "./session.ts";

export const CLUSTER = "test.example";
export const HOST_ID = "0b5c3f0e-7d1e-4f39-9c55-1f2d2a6b9e01";
export const NODE = "web-1";

export const FULL_POLICY: SessionPolicy = {
  permitPty: true,
  permitPortForwarding: true,
  permitAgentForwarding: true,
  clientIdleTimeoutMs: 0,
  recordSession: true,
};

export type AuditEvent = Record<string, unknown> & { event: string };

/** An authorizer whose answers the test sets per user. */
export class FakeAuthorizer implements NodeAuthorizer {
  readonly policies = new Map<string, SessionPolicy | { deny: string }>();
  readonly calls: AuthorizeRequest[] = [];
  /** "USER:MODE" pairs allowed to join others' sessions. */
  readonly joiners = new Set<string>();
  readonly joinCalls: JoinAuthorizeRequest[] = [];
  constructor(private readonly caKeys: KeyObject[]) {}
  trustedUserCaKeys(): KeyObject[] {
    return this.caKeys;
  }
  async authorize(req: AuthorizeRequest) {
    this.calls.push(req);
    const p = this.policies.get(req.user) ?? FULL_POLICY;
    if ("deny" in p) return { allowed: false as const, reason: p.deny };
    return { allowed: true as const, policy: p };
  }
  async authorizeJoin(req: JoinAuthorizeRequest): Promise<JoinDecision> {
    this.joinCalls.push(req);
    if (this.joiners.has(`${req.user}:${req.mode}`)) return { allowed: true };
    return { allowed: false, reason: `no join_sessions policy allows joining ${req.kind} sessions as ${req.mode}` };
  }
}

export interface Recorded {
  meta: Parameters<RecorderFactory>[0];
  output: Buffer[];
  resizes: [number, number][];
  closed: boolean;
}

export interface Kit {
  dir: string;
  port: number;
  service: SshService;
  authorizer: FakeAuthorizer;
  events: AuditEvent[];
  recordings: Recorded[];
  /** Every session tracker the node wrote, in order. */
  trackers: StoredResource[];
  userCa: KeyPair;
  /** The node's host public key (what ssh2 clients, which ignore certificates, see). */
  hostPublicKey: KeyObject;
  /** Writes a key and a certificate for `user` with `logins`; returns ssh args selecting them. */
  identity(user: string, logins: string[], o?: { ca?: KeyObject; clock?: Clock; ttlMs?: number; sourceAddress?: string }): string[];
  /** A key without certificate. */
  plainKey(name: string): string[];
  /** Common OpenSSH options: no config, strict host checking against the host CA. */
  sshOpts(): string[];
  close(): Promise<void>;
}

export async function startKit(o: { authTimeoutMs?: number } = {}): Promise<Kit> {
  const dir = mkdtempSync(join(tmpdir(), "jg-srv-ssh-"));
  const userCa = generateEd25519();
  const hostCa = generateEd25519();
  const hostKey = generateEd25519();
  const hostCert = signHostCertificate({
    publicKey: hostKey.publicKey,
    caKey: hostCa.privateKey,
    hostId: HOST_ID,
    clusterName: CLUSTER,
    principals: [NODE, `${NODE}.${CLUSTER}`],
    role: "node",
    ttlMs: 3600_000,
    clock: systemClock,
  });
  const knownHosts = join(dir, "known_hosts");
  writeFileSync(knownHosts, `${knownHostsCaLine(hostCa.publicKey, CLUSTER)}\n`);
  const events: AuditEvent[] = [];
  const recordings: Recorded[] = [];
  const trackers: StoredResource[] = [];
  const authorizer = new FakeAuthorizer([userCa.publicKey]);
  const service = new SshService({
    hostKey: hostKey.privateKey,
    hostCertificate: formatCertificateLine(hostCert),
    hostId: HOST_ID,
    nodeName: NODE,
    clusterName: CLUSTER,
    authorizer,
    audit: (e) => events.push(e),
    recorders: (meta) => {
      const r: Recorded = { meta, output: [], resizes: [], closed: false };
      recordings.push(r);
      return {
        output: (d) => r.output.push(Buffer.from(d)),
        resize: (c, rows) => r.resizes.push([c, rows]),
        close: async () => {
          r.closed = true;
        },
      };
    },
    trackers: {
      put: async (t) => {
        trackers.push(structuredClone(t));
      },
    },
    clock: systemClock,
    log: pino({ level: process.env.JUMPGATE_TEST_LOG ?? "silent" }),
    ...(o.authTimeoutMs ? { authTimeoutMs: o.authTimeoutMs } : {}),
  });
  const port = await service.listen("127.0.0.1", 0);
  let n = 0;
  const writeKey = (name: string, k: KeyPair) => {
    const path = join(dir, `${name}-${++n}.key`);
    writeFileSync(path, writeOpenSshPrivateKey(k.privateKey), { mode: 0o600 });
    return path;
  };
  return {
    dir,
    port,
    service,
    authorizer,
    events,
    recordings,
    trackers,
    userCa,
    hostPublicKey: hostKey.publicKey,
    identity(user, logins, o = {}) {
      const k = generateEd25519();
      const keyPath = writeKey(user, k);
      const cert = signUserCertificate({
        publicKey: k.publicKey,
        caKey: o.ca ?? userCa.privateKey,
        keyId: user,
        principals: logins,
        ttlMs: o.ttlMs ?? 3600_000,
        clock: o.clock ?? systemClock,
        permitPty: true,
        permitPortForwarding: true,
        permitAgentForwarding: true,
        permitX11Forwarding: false,
        roles: ["access"],
        traits: {},
        ...(o.sourceAddress ? { sourceAddress: o.sourceAddress } : {}),
      });
      // Not KEY-cert.pub, so that ssh uses it only when told to.
      const certPath = `${keyPath}.certificate`;
      writeFileSync(certPath, `${formatCertificateLine(cert)}\n`);
      return ["-i", keyPath, "-o", `CertificateFile=${certPath}`];
    },
    plainKey(name) {
      return ["-i", writeKey(name, generateEd25519())];
    },
    sshOpts() {
      return [
        "-F",
        "none",
        "-o",
        `UserKnownHostsFile=${knownHosts}`,
        "-o",
        "GlobalKnownHostsFile=/dev/null",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        `HostKeyAlias=${NODE}.${CLUSTER}`,
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "IdentityAgent=none",
        "-o",
        "PasswordAuthentication=no",
        "-o",
        "KexAlgorithms=curve25519-sha256",
        "-o",
        "ConnectTimeout=10",
      ];
    },
    async close() {
      await service.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a program asynchronously (the server runs in this process), with a deadline. */
export function run(cmd: string, args: readonly string[], o: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { env: o.env ?? process.env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    p.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => p.kill("SIGKILL"), o.timeoutMs ?? 20_000);
    p.on("close", (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
    p.stdin.on("error", () => undefined); // EPIPE when the program exits without reading
    p.stdin.end(o.input ?? "");
  });
}

/** Starts a long-running program (e.g. ssh -N -L); the caller kills it. */
export function start(cmd: string, args: readonly string[], env?: NodeJS.ProcessEnv): { proc: ChildProcess; stderr: () => string } {
  const proc = spawn(cmd, args, { env: env ?? process.env, stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  proc.stderr?.on("data", (d: Buffer) => (err += d.toString()));
  return { proc, stderr: () => err };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      const port = typeof a === "object" && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** Creates the OS user if missing (tests run as root). */
export function ensureUser(name: string): void {
  if (spawnSync("id", [name]).status === 0) return;
  const r = spawnSync("useradd", ["-m", "-s", "/bin/bash", name], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`useradd ${name}: ${r.stderr}`);
}

export async function waitFor<T>(f: () => T | undefined | Promise<T | undefined>, timeoutMs = 10_000, what = "condition"): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
