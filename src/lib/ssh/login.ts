/**
 * The client side of a certificate login, shared by jsh and the proxy's web
 * terminals so both report refusals the same way and reach nodes by the same
 * route.
 */
import type { Duplex } from "node:stream";
import ssh2 from "ssh2";
import { accessDenied, connectionProblem } from "../../api/errors.ts";
import { HOST_KEY_ALGORITHMS, HOST_KEY_VERIFICATION_FAILED, type HostCertCheck, HostKeyRefused, hostCertificateVerifier } from "./hostcert.ts";
import { CHANNEL_OPTIONS } from "./patched.ts";

export interface CertificateLoginOptions {
  /**
   * How the server's host key is checked: as a host certificate of this
   * cluster for the names given (a node), or not at all when what carries the
   * connection already authenticated the server (TLS to the proxy, or the
   * proxy's own front door entered in-process).
   */
  host: HostCertCheck | (() => HostCertCheck) | "authenticated-by-transport";
  keepaliveIntervalMs?: number;
  /** An ssh-agent socket to forward (`jsh ssh -A`). */
  agent?: string;
}

/**
 * Runs the SSH handshake on `sock` with a user certificate (from
 * `certificateKey`). A refused login becomes `access-denied` carrying the
 * reason the node or proxy gave in its last banner line.
 */
export function loginWithCertificate(sock: Duplex, username: string, key: ssh2.ParsedKey, o: CertificateLoginOptions): Promise<ssh2.Client> {
  const verifier = o.host === "authenticated-by-transport" ? undefined : hostCertificateVerifier(o.host);
  return new Promise((resolve, reject) => {
    const c = new ssh2.Client();
    let banner = "";
    c.on("banner", (msg: string) => {
      banner += msg;
    });
    c.once("ready", () => resolve(c));
    c.once("error", (e: Error & { level?: string }) => {
      const refused = verifier?.refusal();
      if (refused) reject(refused);
      else if (e.level === "client-authentication") {
        const reason = banner
          .trim()
          .split("\n")
          .pop()
          ?.replace(/^jumpgate:\s*/, "");
        // The proxy, terminating the route to an agentless node, refused that node's host key.
        if (reason?.includes(HOST_KEY_VERIFICATION_FAILED)) reject(new HostKeyRefused(reason));
        else reject(accessDenied(reason || `access denied for ${username}`));
      } else reject(connectionProblem(e.message, e));
    });
    const auth: ssh2.PublicKeyAuthMethod = { type: "publickey", username, key };
    c.connect({
      sock,
      username,
      authHandler: [auth],
      ...(verifier
        ? { hostVerifier: verifier.hostVerifier, algorithms: { serverHostKey: [...HOST_KEY_ALGORITHMS] as ssh2.ServerHostKeyAlgorithm[] } }
        : { hostVerifier: () => true }),
      ...(o.keepaliveIntervalMs ? { keepaliveInterval: o.keepaliveIntervalMs } : {}),
      readyTimeout: 20_000,
      // The route to a node carries the end-to-end connection: room for its packets (see CHANNEL_OPTIONS).
      ...CHANNEL_OPTIONS,
      ...(o.agent ? { agent: o.agent, agentForward: true } : {}),
    });
  });
}

/** A raw byte stream to a node's SSH port, routed by the proxy's `proxy:HOST:PORT` subsystem. */
export function openProxyRoute(proxy: ssh2.Client, host: string, port: number): Promise<ssh2.ClientChannel> {
  return new Promise((resolve, reject) => {
    proxy.subsys(`proxy:${host}:${port}`, (err, stream) => {
      if (err) reject(connectionProblem(`cannot reach ${host}: ${err.message}`, err));
      else resolve(stream);
    });
  });
}
