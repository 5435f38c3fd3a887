/**
 * `jsh proxy app` (DESIGN §5): the `jumpgate-app` / `jumpgate-tcp` ALPN
 * routes. Inside the proxy's TLS the client runs a second TLS with its app
 * certificate (as on the database route); the proxy checks it (user CA,
 * validity, route-to-app, the inner server name, locks), dials an Application
 * Service serving the app, sends the certificate first and relays bytes.
 * A refusal is audited and the inner TLS closed: TCP apps have no protocol to
 * carry a message.
 */
import type net from "node:net";
import type { Duplex } from "node:stream";
import tls from "node:tls";
import type { Logger } from "pino";
import { appFromSni } from "../../../api/appwire.ts";
import type { Clock } from "../../../api/clock.ts";
import { isJumpgateError } from "../../../api/errors.ts";
import { type Identity, VerifiedIdentityCache } from "../../crypto/index.ts";
import { peerChainPem } from "../peerchain.ts";
import { relay } from "../relay.ts";
import { type AppRefusal, type AppRoutes, openAppStream } from "./dialer.ts";

export interface AppTlsRouteOptions {
  /** User CA certificates (PEM): the trust anchors for client certificates. */
  userCas(): string[];
  /** The certificate the proxy presents inside (signed by the host CA). */
  serverTls(): { cert: string; key: string };
  routes: AppRoutes;
  /** A lock that applies to this user (or one of its roles): the one line to show; undefined: none. */
  lockedBy(who: { user: string; roles: string[] }): Promise<string | undefined>;
  onRefused?(r: AppRefusal): void;
  clock: Clock;
  log: Logger;
  /** Deadline for the inner TLS handshake; default 10 s. */
  handshakeTimeoutMs?: number;
}

class Refusal extends Error {}

export class AppTlsRoute {
  private ctx: { key: string; value: tls.SecureContext } | undefined;
  private readonly verified = new VerifiedIdentityCache();

  constructor(private readonly o: AppTlsRouteOptions) {}

  /** The mux's `jumpgate-app` / `jumpgate-tcp` handler. */
  handleAlpn(stream: Duplex, info: { remoteAddr: string }): void {
    let s: tls.TLSSocket;
    try {
      // rejectUnauthorized off: every refusal is checked (and audited) below, with its reason.
      s = new tls.TLSSocket(stream as net.Socket, { isServer: true, secureContext: this.secureContext(), requestCert: true, rejectUnauthorized: false });
    } catch (e) {
      this.o.log.warn({ err: String(e) }, "app proxy: cannot start TLS");
      stream.destroy();
      return;
    }
    const timer = setTimeout(() => s.destroy(), this.o.handshakeTimeoutMs ?? 10_000);
    s.on("error", (e) => {
      clearTimeout(timer);
      this.o.log.debug({ clientAddr: info.remoteAddr, err: e.message }, "app proxy: TLS failed");
      s.destroy();
      stream.destroy();
    });
    s.once("close", () => stream.destroy());
    s.once("secure", () => {
      clearTimeout(timer);
      void this.route(s, info.remoteAddr);
    });
  }

  private secureContext(): tls.SecureContext {
    const pair = this.o.serverTls();
    const cas = this.o.userCas();
    const key = `${pair.cert}\n${cas.join("\n")}`;
    if (this.ctx?.key !== key) {
      this.ctx = { key, value: tls.createSecureContext({ cert: pair.cert, key: pair.key, ca: cas, minVersion: "TLSv1.2", sessionIdContext: "jumpgate-app" }) };
    }
    return this.ctx.value;
  }

  private async route(s: tls.TLSSocket, clientAddr: string): Promise<void> {
    let id: Identity | undefined;
    let app: string | undefined;
    try {
      const peer = s.getPeerX509Certificate();
      if (!peer) throw new Refusal("no client certificate: log in to the app first (jsh apps login NAME)");
      try {
        id = this.verified.verify(peer, this.o.userCas(), this.o.clock);
      } catch (e) {
        throw new Refusal(`client certificate refused: ${isJumpgateError(e) ? e.message : "invalid certificate"}`);
      }
      const route = id.routeToApp;
      const asked = appFromSni(s.servername);
      if (id.kind === "host" || !route || route.name === "") {
        if (asked !== undefined) app = asked;
        throw new Refusal(`this certificate is not for an app: run jsh apps login ${asked ?? "NAME"}`);
      }
      app = route.name;
      // jsh names the app it means in the inner SNI: a certificate for another one is refused, not rerouted.
      if (asked !== undefined && asked !== app) {
        const cert = app;
        app = asked;
        throw new Refusal(`this certificate is for app ${cert}, not ${asked}: run jsh apps login ${asked}`);
      }
      const lock = await this.o.lockedBy({ user: id.username, roles: id.roles });
      if (lock) throw new Refusal(lock);
      const upstream = await openAppStream(this.o.routes, { cert: peerChainPem(s, peer), clientAddr, app, publicAddr: "" }, this.o.log);
      s.setNoDelay(true);
      relay(s, upstream);
    } catch (e) {
      const known = e instanceof Refusal || isJumpgateError(e);
      if (!known) this.o.log.error({ err: String(e) }, "app proxy: routing failed");
      const reason = known ? (e as Error).message : "internal error";
      this.refused({ clientAddr, reason, ...(id ? { user: id.username } : {}), ...(app ? { app } : {}) });
      s.end();
      setTimeout(() => s.destroy(), 1_000).unref();
    }
  }

  private refused(r: AppRefusal): void {
    this.o.log.info({ ...r }, "app connection refused");
    try {
      this.o.onRefused?.(r);
    } catch {
      // auditing a refusal never breaks the refusal
    }
  }
}
