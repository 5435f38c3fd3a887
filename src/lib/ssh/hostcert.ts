/**
 * Verifying a node's SSH host key the way OpenSSH does with a
 * `@cert-authority` line: the key must come as an OpenSSH host certificate,
 * signed by one of the cluster's host CA keys, valid now, and listing the
 * name the node was asked for among its principals. ssh2 clients reach the
 * certificate through patches/ssh2+*.patch (kex.js): with HOST_KEY_ALGORITHMS
 * they negotiate `*-cert-v01@openssh.com`, verify the key exchange with the
 * certified key and hand the whole certificate to `hostVerifier`.
 */
import type { KeyObject } from "node:crypto";
import type { Clock } from "../../api/clock.ts";
import { JumpgateError } from "../../api/errors.ts";
import { parseCertificate, publicKeysEqual, type SshCertificate, verifySshSignature } from "../crypto/index.ts";

/** Certificates first (what Jumpgate nodes and the proxy present), then plain keys, so that a node with only those is refused by name rather than by a failed negotiation. */
export const HOST_KEY_ALGORITHMS: readonly string[] = [
  "ssh-ed25519-cert-v01@openssh.com",
  "ecdsa-sha2-nistp256-cert-v01@openssh.com",
  "ssh-ed25519",
  "ecdsa-sha2-nistp256",
];

/** How refusals start once they name the node; the proxy's refusals of a node's host key say it too, so jsh can tell them apart. */
export const HOST_KEY_VERIFICATION_FAILED = "host key verification failed";

/** A node whose host key is not one this cluster vouches for. jsh exits 255 on it, like OpenSSH. */
export class HostKeyRefused extends JumpgateError {
  readonly exitCode = 255;
  constructor(message: string, detail?: string) {
    super("access-denied", message, detail === undefined ? undefined : { detail });
    this.name = "HostKeyRefused";
  }
}

export function isHostKeyRefused(e: unknown): e is HostKeyRefused {
  return e instanceof HostKeyRefused;
}

export interface HostCertCheck {
  /** The cluster's host CA public keys (several during a rotation's grace period). */
  trustedCaKeys: readonly KeyObject[];
  /** The names the node was asked for by; the certificate must list one of them. The first is the one shown in messages. */
  principals: readonly string[];
  clock: Clock;
}

const CERT_SUFFIX = "-cert-v01@openssh.com";

function names(list: readonly string[]): string {
  const shown = list.slice(0, 4).map((n) => JSON.stringify(n));
  return `${shown.join(", ")}${list.length > 4 ? ", …" : ""}`;
}

function keyAlgorithm(blob: Buffer): string {
  if (blob.length < 4) return "";
  const n = blob.readUInt32BE(0);
  return n <= 64 && blob.length >= 4 + n ? blob.subarray(4, 4 + n).toString("latin1") : "";
}

/**
 * Checks the host key blob a node presented (K_S of the key exchange).
 * Returns the certificate, or throws HostKeyRefused with a one-line reason.
 */
export function checkHostCertificate(key: Buffer, o: HostCertCheck): SshCertificate {
  const expected = o.principals[0] ?? "";
  if (!keyAlgorithm(key).endsWith(CERT_SUFFIX)) {
    throw new HostKeyRefused("the node presented a plain host key, not a host certificate from this cluster's host CA");
  }
  let c: SshCertificate;
  try {
    c = parseCertificate(key);
  } catch (e) {
    throw new HostKeyRefused("the node's host certificate is malformed", e instanceof Error ? e.message : String(e));
  }
  const trusted = o.trustedCaKeys.some((k) => {
    try {
      return publicKeysEqual(k, c.signatureKey);
    } catch {
      return false;
    }
  });
  if (!trusted) throw new HostKeyRefused("the node's host certificate is not signed by this cluster's host CA");
  if (!verifySshSignature(c.signatureKey, c.signedData, c.signature)) {
    throw new HostKeyRefused("the node's host certificate has an invalid CA signature");
  }
  if (c.type !== "host") throw new HostKeyRefused(`the node presented a ${c.type} certificate, not a host certificate`);
  const now = BigInt(Math.floor(o.clock.now().getTime() / 1000));
  if (now < c.validAfterSeconds) throw new HostKeyRefused(`the node's host certificate is not valid before ${c.validAfter.toISOString()}`);
  if (now >= c.validBeforeSeconds) throw new HostKeyRefused(`the node's host certificate expired at ${c.validBefore.toISOString()}`);
  if (!o.principals.some((p) => c.principals.includes(p))) {
    throw new HostKeyRefused(`the node's host certificate is for ${names(c.principals) || "no host"}, not ${JSON.stringify(expected)}`);
  }
  // OpenSSH knows no critical options for host certificates and refuses any.
  if (c.criticalOptions.size > 0) {
    throw new HostKeyRefused(`the node's host certificate has unsupported critical options (${[...c.criticalOptions.keys()].join(", ")})`);
  }
  return c;
}

/**
 * An ssh2 `hostVerifier` that runs checkHostCertificate, and remembers why it
 * refused: ssh2 then only reports "Host denied (verification failed)".
 */
export interface HostVerifier {
  hostVerifier(key: Buffer): boolean;
  /** Set once the verifier has refused the node. */
  refusal(): HostKeyRefused | undefined;
  /** The certificate of the last accepted handshake. */
  certificate(): SshCertificate | undefined;
}

export function hostCertificateVerifier(check: HostCertCheck | (() => HostCertCheck)): HostVerifier {
  let refused: HostKeyRefused | undefined;
  let accepted: SshCertificate | undefined;
  return {
    hostVerifier: (key) => {
      try {
        accepted = checkHostCertificate(key, typeof check === "function" ? check() : check);
        return true;
      } catch (e) {
        refused = e instanceof HostKeyRefused ? e : new HostKeyRefused("the node's host key cannot be checked", String(e));
        return false;
      }
    },
    refusal: () => refused,
    certificate: () => accepted,
  };
}

/**
 * The principals to expect of a node addressed as `host` (a name, a UUID, or
 * either with `.CLUSTER`), matching how the proxy resolves it: as given, and
 * without the cluster suffix. Nodes' and the proxy's host certificates list
 * both forms of both the UUID and the name.
 */
export function expectedNodePrincipals(host: string, clusterName: string): string[] {
  const suffix = `.${clusterName}`;
  if (clusterName && host.length > suffix.length && host.toLowerCase().endsWith(suffix.toLowerCase())) {
    return [host, host.slice(0, -suffix.length)];
  }
  return [host];
}
