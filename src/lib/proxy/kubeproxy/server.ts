/**
 * The proxy's Kubernetes route (DESIGN §5): kubectl reaches the public port
 * with TLS and the server name `kube.<proxy host>`; the multiplexer asks it
 * for a client certificate and hands the TLS socket here. The certificate must
 * chain to the user CA, be valid now, be a user's, and name a cluster
 * (`jsh kube login CLUSTER`); the user must not be locked; a Kubernetes Service
 * must serve the cluster over a live tunnel. Then the stream to that service
 * starts with the header (`api/kubewire.ts`) and kubectl's bytes follow as they
 * are: the service verifies the certificate again and speaks HTTP itself.
 *
 * A refusal is answered in kubectl's terms: an HTTP/1.1 response with a
 * Kubernetes `Status` (401, 403 or 503), after the request head it sent, and
 * audited through `onRefused`.
 */
import type { Duplex } from "node:stream";
import tls from "node:tls";
import type { Logger } from "pino";
import type { Clock } from "../../../api/clock.ts";
import { isJumpgateError } from "../../../api/errors.ts";
import { type Identity, VerifiedIdentityCache } from "../../crypto/index.ts";
import { peerChainPem } from "../peerchain.ts";
import { relay } from "../relay.ts";
import { type KubeRoutes, noKubeServiceMessage, openKubeStream } from "./dialer.ts";
import { type KubeRefusalCode, kubeStatusResponse, scanRequestHead } from "./status.ts";

/** A connection refused before it reached a Kubernetes Service, for the audit log. */
export interface KubeRefusal {
  user?: string;
  cluster?: string;
  clientAddr: string;
  reason: string;
  code: KubeRefusalCode;
  /** The request kubectl sent, when it sent one before the answer. */
  request?: { verb: string; path: string };
}

export interface KubeProxyOptions {
  /** User CA certificates (PEM): the trust anchors for client certificates. */
  userCas(): string[];
  routes: KubeRoutes;
  /** A lock that applies to this user (or one of its roles): the one line to show; undefined: none. */
  lockedBy(who: { user: string; roles: string[] }): Promise<string | undefined>;
  onRefused?(r: KubeRefusal): void;
  clock: Clock;
  log: Logger;
  /** How long a refused client may take to send its request head before the answer goes anyway; default 5 s. */
  answerTimeoutMs?: number;
}

const LOGIN_HINT = "run jsh kube login CLUSTER";

class Refusal extends Error {
  constructor(
    readonly code: KubeRefusalCode,
    message: string,
  ) {
    super(message);
  }
}

export class KubeProxy {
  /** Chain checks and identity decoding, once per certificate (validity is still checked per connection). */
  private readonly verified = new VerifiedIdentityCache();

  constructor(private readonly o: KubeProxyOptions) {}

  /** The multiplexer's handler for TLS connections with the server name `kube.<proxy host>`. */
  handle = (s: Duplex, info: { remoteAddr: string }): void => {
    if (!(s instanceof tls.TLSSocket)) {
      s.destroy();
      return;
    }
    void this.route(s, info.remoteAddr);
  };

  private async route(s: tls.TLSSocket, clientAddr: string): Promise<void> {
    let id: Identity | undefined;
    let cluster: string | undefined;
    try {
      const peer = s.getPeerX509Certificate();
      if (!peer) throw new Refusal(401, `no client certificate: ${LOGIN_HINT}`);
      try {
        id = this.verified.verify(peer, this.o.userCas(), this.o.clock);
      } catch (e) {
        throw new Refusal(401, `client certificate refused: ${isJumpgateError(e) ? e.message : "invalid certificate"}; ${LOGIN_HINT}`);
      }
      if (id.kind === "host") throw new Refusal(403, "a host certificate cannot reach Kubernetes clusters");
      cluster = id.kubernetesCluster;
      if (cluster === undefined || cluster === "") throw new Refusal(401, `this certificate is not for a Kubernetes cluster: ${LOGIN_HINT}`);
      const lock = await this.o.lockedBy({ user: id.username, roles: id.roles });
      if (lock) throw new Refusal(403, lock);
      const servers = await this.o.routes.findServers(cluster);
      if (servers.length === 0) throw new Refusal(503, noKubeServiceMessage(cluster));
      let upstream: Duplex;
      try {
        upstream = await openKubeStream(this.o.routes, { cert: peerChainPem(s, peer), clientAddr, cluster }, servers, this.o.log);
      } catch (e) {
        throw new Refusal(503, isJumpgateError(e) ? e.message : `cannot reach Kubernetes cluster ${cluster}`);
      }
      if (s.destroyed) {
        // kubectl left while the tunnel opened: nothing to relay, and relay would never see its close.
        upstream.destroy();
        return;
      }
      s.setNoDelay(true);
      relay(s, upstream);
    } catch (e) {
      const known = e instanceof Refusal || isJumpgateError(e);
      if (!known) this.o.log.error({ err: String(e) }, "kube proxy: routing failed");
      const code: KubeRefusalCode = e instanceof Refusal ? e.code : 503;
      const reason = known ? (e as Error).message : "internal error";
      const request = await this.answer(s, code, reason);
      this.refused({
        clientAddr,
        reason,
        code,
        ...(id ? { user: id.username } : {}),
        ...(cluster ? { cluster } : {}),
        ...(request ? { request } : {}),
      });
    }
  }

  /**
   * Reads kubectl's request head (so the answer answers it, and no unread
   * bytes turn the close into a reset), sends the Status and closes.
   * Resolves with the request line it saw.
   */
  private answer(s: tls.TLSSocket, code: KubeRefusalCode, message: string): Promise<{ verb: string; path: string } | undefined> {
    return new Promise((resolve) => {
      if (s.destroyed) {
        resolve(undefined);
        return;
      }
      let head = Buffer.alloc(0);
      let done = false;
      const send = (request?: { verb: string; path: string }) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        s.off("data", onData);
        s.off("close", onClose);
        // Whatever else comes (a request body) is read and dropped until kubectl closes.
        s.on("data", () => undefined);
        s.end(kubeStatusResponse(code, message));
        setTimeout(() => s.destroy(), 5_000).unref();
        resolve(request);
      };
      const onData = (chunk: Buffer) => {
        head = Buffer.concat([head, chunk]);
        const scan = scanRequestHead(head);
        if (scan.kind === "done") send(scan.request);
      };
      const onClose = () => {
        done = true;
        clearTimeout(timer);
        resolve(undefined);
      };
      const timer = setTimeout(() => send(), this.o.answerTimeoutMs ?? 5_000);
      s.on("data", onData);
      s.once("close", onClose);
    });
  }

  private refused(r: KubeRefusal): void {
    this.o.log.info({ ...r }, "Kubernetes connection refused");
    try {
      this.o.onRefused?.(r);
    } catch {
      // auditing a refusal never breaks the refusal
    }
  }
}
