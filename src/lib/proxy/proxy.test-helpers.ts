/**
 * Shared by this folder's tests: TLS for a test multiplexer, CAs and
 * certificates, an echo server, waiting. Not part of the public surface.
 */
import type { KeyObject } from "node:crypto";
import net from "node:net";
import { type Logger, pino } from "pino";
import { type Clock, systemClock } from "../../api/clock.ts";
import {
  createCa,
  formatCertificateLine,
  generateEcdsaP256,
  generateEd25519,
  issueServerCertificate,
  type KeyPair,
  signHostCertificate,
  signUserCertificate,
} from "../crypto/index.ts";

export const CLUSTER = "test-cluster";

export function testLog(): Logger {
  return pino({ level: process.env.JUMPGATE_TEST_LOG ?? "silent" });
}

/** A self-signed TLS chain for 127.0.0.1 / localhost, and its CA for clients. */
export async function testTls(): Promise<{ cert: string; key: string; ca: string }> {
  const ca = await createCa({ commonName: "test proxy CA", organization: "Jumpgate", clock: systemClock });
  const leafKey = generateEcdsaP256();
  const leaf = await issueServerCertificate({
    caCert: ca.certPem,
    caKey: ca.privateKey,
    publicKey: leafKey.publicKey,
    commonName: "localhost",
    dnsNames: ["localhost"],
    ipAddresses: ["127.0.0.1"],
    ttlMs: 3600_000,
    clock: systemClock,
  });
  return {
    cert: `${leaf.trim()}\n${ca.certPem.trim()}\n`,
    key: leafKey.privateKey.export({ format: "pem", type: "pkcs8" }).toString(),
    ca: ca.certPem,
  };
}

export interface HostIdentity {
  hostKey: KeyObject;
  hostCertificate: string;
}

export function hostIdentity(ca: KeyPair, hostId: string, opts: { clock?: Clock; ttlMs?: number } = {}): HostIdentity {
  const key = generateEd25519();
  const cert = signHostCertificate({
    publicKey: key.publicKey,
    caKey: ca.privateKey,
    hostId,
    clusterName: CLUSTER,
    principals: [`${hostId}-name`],
    role: "node",
    ttlMs: opts.ttlMs ?? 3600_000,
    clock: opts.clock ?? systemClock,
  });
  return { hostKey: key.privateKey, hostCertificate: formatCertificateLine(cert) };
}

export interface UserIdentity {
  key: KeyPair;
  certificate: string;
}

export function userIdentity(ca: KeyPair, username: string, opts: { clock?: Clock; ttlMs?: number; roles?: string[] } = {}): UserIdentity {
  const key = generateEd25519();
  const cert = signUserCertificate({
    publicKey: key.publicKey,
    caKey: ca.privateKey,
    keyId: username,
    principals: ["root"],
    ttlMs: opts.ttlMs ?? 3600_000,
    clock: opts.clock ?? systemClock,
    permitPty: true,
    permitPortForwarding: true,
    permitAgentForwarding: false,
    permitX11Forwarding: false,
    roles: opts.roles ?? ["access"],
    traits: {},
  });
  return { key, certificate: formatCertificateLine(cert) };
}

/** A TCP echo server on 127.0.0.1. */
export async function startEcho(): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    s.on("error", () => s.destroy());
    s.pipe(s);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const addr = server.address();
  const port = typeof addr === "object" && addr !== null ? addr.port : 0;
  return {
    port,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** Polls `cond` until it holds or `timeoutMs` passes. */
export async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Writes `text` and reads until as many bytes came back. */
export function roundTrip(stream: NodeJS.ReadWriteStream, text: string, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = "";
    const timer = setTimeout(() => reject(new Error(`echo timed out, got ${JSON.stringify(got)}`)), timeoutMs);
    const onData = (d: Buffer) => {
      got += d.toString();
      if (got.length >= text.length) {
        clearTimeout(timer);
        stream.off("data", onData);
        resolve(got);
      }
    };
    stream.on("data", onData);
    stream.write(text);
  });
}
