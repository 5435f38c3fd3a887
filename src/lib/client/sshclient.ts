import net from "node:net";
import type { Duplex } from "node:stream";
import tls from "node:tls";
import type ssh2 from "ssh2";
import { systemClock } from "../../api/clock.ts";
import { ALPN } from "../../api/constants.ts";
import { accessDenied, connectionProblem } from "../../api/errors.ts";
import {
  type CertificateLoginOptions,
  certificateKey,
  expectedNodePrincipals,
  HOST_KEY_VERIFICATION_FAILED,
  HostKeyRefused,
  isHostKeyRefused,
  loginWithCertificate,
  openProxyRoute,
} from "../ssh/index.ts";
import { type Profile, type StoredCredentials, trustedHostCaKeys } from "./profile.ts";

export interface SshTarget {
  /** Node name, UUID or NAME.CLUSTER, as the proxy resolves it; the node's host certificate must list it. */
  host: string;
  port: number;
  login: string;
}

function tlsToProxy(p: Profile): Promise<tls.TLSSocket> {
  const i = p.proxy.lastIndexOf(":");
  const host = p.proxy.slice(0, i);
  const port = Number(p.proxy.slice(i + 1));
  return new Promise((resolve, reject) => {
    const s = tls.connect({
      host,
      port,
      servername: net.isIP(host) ? "" : host,
      ALPNProtocols: [ALPN.ssh],
      ...(p.insecure ? { rejectUnauthorized: false } : {}),
    });
    s.once("secureConnect", () => {
      s.setNoDelay(true);
      resolve(s);
    });
    s.once("error", (e) => reject(connectionProblem(`cannot reach the proxy at ${p.proxy}: ${e.message}`, e)));
  });
}

/** Runs the SSH handshake on `sock` with the user's certificate. */
function sshOver(sock: Duplex, username: string, creds: StoredCredentials, host: CertificateLoginOptions["host"], agent?: string): Promise<ssh2.Client> {
  const key = certificateKey(creds.sshKey, creds.sshCert);
  return loginWithCertificate(sock, username, key, { host, keepaliveIntervalMs: 15_000, ...(agent ? { agent } : {}) });
}

/** The proxy hop: TLS authenticated the proxy, so its SSH host key needs no second check. */
export async function connectProxy(p: Profile, creds: StoredCredentials): Promise<ssh2.Client> {
  const sock = await tlsToProxy(p);
  return sshOver(sock, p.user, creds, "authenticated-by-transport");
}

/** A raw byte stream to a node's SSH port, routed by the proxy (what `jsh proxy ssh` hands to OpenSSH). */
export const openRoute = openProxyRoute;

/**
 * SSH to a node through the proxy, end to end: the proxy only relays bytes.
 * The node (or the proxy speaking for an agentless one) must present a host
 * certificate from the cluster's host CA for the name asked for; anything
 * else is refused with HostKeyRefused, as OpenSSH with `@cert-authority` would.
 */
export async function connectNode(p: Profile, creds: StoredCredentials, t: SshTarget, agent?: string): Promise<{ node: ssh2.Client; proxy: ssh2.Client }> {
  const trustedCaKeys = trustedHostCaKeys(creds);
  if (trustedCaKeys.length === 0) {
    throw new HostKeyRefused(`the profile for ${p.proxy} holds no host CA key to verify nodes with; run: jsh login --proxy=${p.proxy}`);
  }
  const host = { trustedCaKeys, principals: expectedNodePrincipals(t.host, p.cluster), clock: systemClock };
  const proxy = await connectProxy(p, creds);
  try {
    const route = await openRoute(proxy, t.host, t.port);
    // The proxy's refusal (unknown node, access denied) arrives as text on stderr of the route.
    let refusal = "";
    route.stderr.on("data", (d: Buffer) => {
      refusal += d.toString();
    });
    const node = await sshOver(route, t.login, creds, host, agent).catch((e: unknown) => {
      if (isHostKeyRefused(e))
        throw e.message.includes(HOST_KEY_VERIFICATION_FAILED)
          ? e
          : new HostKeyRefused(`${HOST_KEY_VERIFICATION_FAILED} for ${t.host}: ${e.message}`, e.detail);
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
