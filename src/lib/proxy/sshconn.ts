/**
 * What the proxy's two ssh2 servers (the reverse-tunnel server and the SSH
 * proxy) share: the host key they present, accepting one connection on any
 * stream with a login deadline, and certificate logins (DESIGN §7b: ssh2 hands
 * over the raw certificate; we verify it and the client's signature ourselves).
 */
import type { KeyObject } from "node:crypto";
import type net from "node:net";
import { isIP } from "node:net";
import type { Duplex } from "node:stream";
import ssh2, { type ParsedKey } from "ssh2";
import type { Clock } from "../../api/clock.ts";
import { badParameter, isJumpgateError } from "../../api/errors.ts";
import { parseCertificate, type SshCertificate, type SshCertType, verifyCertificate, verifySshSignature, writeOpenSshPrivateKey } from "../crypto/index.ts";
import { CHANNEL_OPTIONS, certificateKey } from "../ssh/index.ts";

/**
 * The host key an ssh2 server presents. With `hostCertificate`, the key
 * carries the certificate the way `certificateKey` marks it; an ssh2 without
 * the server-side host-certificate patch (lib/protocol/kex.js) ignores the mark
 * and presents the bare Ed25519 key, so switching is this one option.
 */
export function ssh2HostKey(hostKey: KeyObject, hostCertificate?: string): ParsedKey {
  if (hostCertificate !== undefined) return certificateKey(hostKey, hostCertificate);
  const parsed = ssh2.utils.parseKey(writeOpenSshPrivateKey(hostKey));
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key || key instanceof Error) throw badParameter("the host key cannot be used for SSH");
  return key;
}

export interface AcceptSshOptions {
  hostKey: ParsedKey;
  /** From the first byte to a completed login; default 30 s. */
  loginTimeoutMs?: number;
  /** Server-side keepalives: a peer that answers none of `countMax` in a row is dropped. */
  keepaliveIntervalMs?: number;
  keepaliveCountMax?: number;
}

/**
 * Runs an ssh2 server connection on `stream` (a TCP or TLS socket, or any
 * duplex). `onConnection` gets it once the peer's version line arrived. A peer
 * that has not logged in by the deadline, or that sends garbage, is dropped.
 */
export function acceptSsh(stream: Duplex, opts: AcceptSshOptions, onConnection: (conn: ssh2.Connection) => void): void {
  const deadline = setTimeout(() => stream.destroy(), opts.loginTimeoutMs ?? 30_000);
  const clear = () => clearTimeout(deadline);
  stream.once("close", clear);
  stream.on("error", () => stream.destroy());
  // One ssh2.Server per connection, so that the handler's closure knows which
  // stream (and which remote address, which may come from a PROXY header) it serves.
  const server = new ssh2.Server(
    {
      hostKeys: [{ key: opts.hostKey }],
      ident: "Jumpgate",
      keepaliveInterval: opts.keepaliveIntervalMs ?? 15_000,
      keepaliveCountMax: opts.keepaliveCountMax ?? 3,
      // Both servers carry whole SSH connections in their channels: room for an inner packet per channel packet.
      ...CHANNEL_OPTIONS,
    },
    (conn) => {
      conn.on("error", () => stream.destroy());
      conn.once("ready", clear);
      conn.once("close", () => stream.destroy());
      onConnection(conn);
    },
  );
  try {
    // ssh2 only needs a duplex with optional socket extras (remoteAddress, setNoDelay).
    server.injectSocket(stream as net.Socket);
  } catch {
    clear();
    stream.destroy();
  }
}

export type CertLogin =
  /** The client only asked whether the key would do; it would. */
  | { kind: "query"; cert: SshCertificate }
  | { kind: "ok"; cert: SshCertificate }
  /** `keyId`: what the certificate claims, when it parses (not verified: for logs and audit only). */
  | { kind: "refused"; reason: string; keyId?: string };

export interface CertLoginOptions {
  trustedCaKeys: readonly KeyObject[];
  type: SshCertType;
  principal?: string;
  clock: Clock;
  /** The client's IP, for certificates pinned with `source-address`. */
  sourceAddress?: string;
}

const CERT_SUFFIX = "-cert-v01@openssh.com";

/** Checks a publickey login made with an OpenSSH certificate. Never throws. */
export function checkCertificateLogin(ctx: ssh2.PublicKeyAuthContext, opts: CertLoginOptions): CertLogin {
  if (!ctx.key.algo.endsWith(CERT_SUFFIX)) return { kind: "refused", reason: "only certificate logins are accepted" };
  let cert: SshCertificate;
  try {
    cert = verifyCertificate(ctx.key.data, {
      trustedCaKeys: opts.trustedCaKeys,
      type: opts.type,
      clock: opts.clock,
      ...(opts.principal === undefined ? {} : { principal: opts.principal }),
      ...(opts.sourceAddress === undefined ? {} : { sourceAddress: opts.sourceAddress }),
    });
  } catch (e) {
    const reason = isJumpgateError(e) ? e.message : "malformed certificate";
    const keyId = claimedKeyId(ctx.key.data);
    return keyId === undefined ? { kind: "refused", reason } : { kind: "refused", reason, keyId };
  }
  if (cert.algorithm !== ctx.key.algo) return { kind: "refused", reason: "certificate algorithm mismatch", keyId: cert.keyId };
  if (ctx.signature === undefined || ctx.blob === undefined) return { kind: "query", cert };
  // For certificates ssh2 leaves the algorithm header on the signature blob, which is what verifySshSignature reads.
  if (!verifySshSignature(cert.publicKey, ctx.blob, ctx.signature)) {
    return { kind: "refused", reason: "signature does not match the certificate's key", keyId: cert.keyId };
  }
  return { kind: "ok", cert };
}

/** The key id a certificate claims, unverified (for logs and audit), if it parses. */
function claimedKeyId(blob: Buffer): string | undefined {
  try {
    return parseCertificate(blob).keyId;
  } catch {
    return undefined;
  }
}

/** The IP of `1.2.3.4:5`, `[::1]:5` or `::1:5` (how the multiplexer writes IPv6); anything else unchanged. */
export function hostOf(addr: string): string {
  const bracketed = /^\[([^\]]+)\]:\d+$/.exec(addr);
  if (bracketed?.[1] !== undefined) return bracketed[1];
  const i = addr.lastIndexOf(":");
  if (i > 0 && /^\d+$/.test(addr.slice(i + 1)) && isIP(addr.slice(0, i)) !== 0) return addr.slice(0, i);
  return addr;
}
