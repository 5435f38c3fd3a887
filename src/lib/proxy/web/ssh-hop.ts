/**
 * A web terminal's SSH connection, made the way `jsh ssh` makes it: log in to
 * the proxy's own SSH front door with the web session's certificate, open the
 * `proxy:NODE:0` route, and run SSH to the node inside it. The front door is
 * entered in-process through a stream pair, so the route check, locks, the
 * node's RBAC, recording and audit are exactly those of `jsh ssh`.
 */
import { createPrivateKey } from "node:crypto";
import { Duplex } from "node:stream";
import type ssh2 from "ssh2";
import { accessDenied } from "../../../api/errors.ts";
import {
  type CertificateLoginOptions,
  certificateKey,
  HOST_KEY_VERIFICATION_FAILED,
  type HostCertCheck,
  HostKeyRefused,
  isHostKeyRefused,
  loginWithCertificate,
  openProxyRoute,
} from "../../ssh/index.ts";

/** What ProxySshServer offers: a connection arrives as a duplex; nodes reached through it are checked as it says. */
export interface SshEntry {
  handleConnection(stream: Duplex, info: { remoteAddr: string }): void;
  nodeHostCheck(host: string): HostCertCheck;
}

export interface HopCredentials {
  user: string;
  sshCert: string;
  /** PKCS#8 PEM. */
  sshPrivateKey: string;
}

/** Two connected in-memory duplexes: what one writes, the other reads. */
export function streamPair(): [Duplex, Duplex] {
  const ends: Duplex[] = [];
  const make = (peer: () => Duplex | undefined) =>
    new Duplex({
      read() {
        // Data is pushed by the peer's writes.
      },
      write(chunk: Buffer, _enc, cb) {
        peer()?.push(chunk);
        cb();
      },
      final(cb) {
        peer()?.push(null);
        cb();
      },
      destroy(err, cb) {
        const p = peer();
        if (p && !p.destroyed) p.destroy();
        cb(err);
      },
    });
  ends.push(
    make(() => ends[1]),
    make(() => ends[0]),
  );
  return [ends[0] as Duplex, ends[1] as Duplex];
}

function login(sock: Duplex, username: string, creds: HopCredentials, host: CertificateLoginOptions["host"]): Promise<ssh2.Client> {
  const key = certificateKey(createPrivateKey(creds.sshPrivateKey), creds.sshCert);
  return loginWithCertificate(sock, username, key, { host, keepaliveIntervalMs: 15_000 });
}

/** SSH to `login@host` through the proxy; the caller ends both clients. */
export async function connectThroughProxy(
  entry: SshEntry,
  remoteAddr: string,
  creds: HopCredentials,
  target: { host: string; login: string },
): Promise<{ node: ssh2.Client; proxy: ssh2.Client }> {
  const [mine, theirs] = streamPair();
  entry.handleConnection(theirs, { remoteAddr });
  // The first hop is this process's own front door; the node must show a host certificate of the cluster, as to jsh.
  const proxy = await login(mine, creds.user, creds, "authenticated-by-transport");
  try {
    const r = await openProxyRoute(proxy, target.host, 0);
    // The proxy's refusal (unknown node, access denied, lock) arrives on the route's stderr.
    let refusal = "";
    r.stderr.on("data", (d: Buffer) => {
      refusal += d.toString();
    });
    const node = await login(r, target.login, creds, () => entry.nodeHostCheck(target.host)).catch((e: unknown) => {
      if (isHostKeyRefused(e))
        throw e.message.includes(HOST_KEY_VERIFICATION_FAILED)
          ? e
          : new HostKeyRefused(`${HOST_KEY_VERIFICATION_FAILED} for ${target.host}: ${e.message}`, e.detail);
      const first = refusal
        .trim()
        .split("\n")[0]
        ?.replace(/^ERROR:\s*/, "");
      if (first) throw accessDenied(first);
      throw e;
    });
    node.once("close", () => proxy.end());
    return { node, proxy };
  } catch (e) {
    proxy.end();
    throw e;
  }
}
