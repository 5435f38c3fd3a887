import net from "node:net";
import type { Duplex } from "node:stream";
import tls from "node:tls";
import type ssh2 from "ssh2";
import { ALPN } from "../../api/constants.ts";
import { accessDenied, connectionProblem } from "../../api/errors.ts";
import { certificateKey, loginWithCertificate, openProxyRoute } from "../ssh/index.ts";
import type { Profile, StoredCredentials } from "./profile.ts";

export interface SshTarget {
  /** Node name, UUID or NAME.CLUSTER, as the proxy resolves it. */
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
function sshOver(
  sock: Duplex,
  username: string,
  creds: StoredCredentials,
  hostVerifier: (key: Buffer) => boolean,
  agent?: string,
): Promise<ssh2.Client> {
  const key = certificateKey(creds.sshKey, creds.sshCert);
  return loginWithCertificate(sock, username, key, { hostVerifier, keepaliveIntervalMs: 15_000, ...(agent ? { agent } : {}) });
}

/** The proxy hop: TLS authenticated the proxy, so its SSH host key needs no second check. */
export async function connectProxy(p: Profile, creds: StoredCredentials): Promise<ssh2.Client> {
  const sock = await tlsToProxy(p);
  return sshOver(sock, p.user, creds, () => true);
}

/** A raw byte stream to a node's SSH port, routed by the proxy (what `jsh proxy ssh` hands to OpenSSH). */
export const openRoute = openProxyRoute;

/** SSH to a node through the proxy, end to end: the proxy only relays bytes. */
export async function connectNode(
  p: Profile,
  creds: StoredCredentials,
  t: SshTarget,
  hostVerifier: (key: Buffer) => boolean,
  agent?: string,
): Promise<{ node: ssh2.Client; proxy: ssh2.Client }> {
  const proxy = await connectProxy(p, creds);
  try {
    const route = await openRoute(proxy, t.host, t.port);
    // The proxy's refusal (unknown node, access denied) arrives as text on stderr of the route.
    let refusal = "";
    route.stderr.on("data", (d: Buffer) => {
      refusal += d.toString();
    });
    const node = await sshOver(route, t.login, creds, hostVerifier, agent).catch((e: unknown) => {
      const first = refusal.trim().split("\n")[0]?.replace(/^ERROR:\s*/, "");
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
