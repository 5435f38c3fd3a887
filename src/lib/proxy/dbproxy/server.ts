import type { X509Certificate } from "node:crypto";
import type net from "node:net";
import type { Duplex } from "node:stream";
import tls from "node:tls";
import type { Logger } from "pino";
import type { Clock } from "../../../api/clock.ts";
import { databaseFromSni, encodeDbHeader, pgErrorResponse, sendDbRefusal } from "../../../api/dbwire.ts";
import { isJumpgateError } from "../../../api/errors.ts";
import { type Identity, VerifiedIdentityCache } from "../../crypto/index.ts";
import { peerChainPem } from "../peerchain.ts";
import { relay } from "../relay.ts";
import { pgPreTlsStep } from "./pgfront.ts";

export type DbWireProtocol = "postgres" | "mysql";

/** A Database Service that serves a database, from its `db_server` heartbeat. */
export interface DbServerRoute {
  /** The service's host id (its reverse tunnel is keyed by it). */
  hostId: string;
  /** Database name. */
  name: string;
  protocol: string;
  /** Reached through its reverse tunnel, or directly at `addr`. */
  viaTunnel: boolean;
  addr?: string;
}

/** A connection refused before it reached a Database Service, for the audit log. */
export interface DbRefusal {
  user?: string;
  database?: string;
  protocol: DbWireProtocol;
  clientAddr: string;
  reason: string;
}

export interface DbProxyOptions {
  /** User CA certificates (PEM): the trust anchors for client certificates. */
  userCas(): string[];
  /** The certificate the proxy presents to database clients (signed by the host CA). */
  serverTls(): { cert: string; key: string };
  /** Database Services that currently serve `database`. */
  findServers(database: string): Promise<DbServerRoute[]>;
  /** A lock that applies to this user (or one of its roles): the one line to show; undefined: none. */
  lockedBy(who: { user: string; roles: string[] }): Promise<string | undefined>;
  /** Opens a stream to a Database Service (reverse tunnel or TCP). */
  dial(server: DbServerRoute, info: { clientAddr: string; target: string }): Promise<Duplex>;
  onRefused?(r: DbRefusal): void;
  clock: Clock;
  log: Logger;
  /** Deadline for the Postgres pre-TLS exchange and each TLS handshake; default 10 s. */
  handshakeTimeoutMs?: number;
}

class Refusal extends Error {}

/**
 * The proxy's database front door (DESIGN §5): a Postgres client straight at
 * the public port (SSLRequest, then TLS with a client certificate), or any
 * client on the `jumpgate-postgres` / `jumpgate-mysql` ALPN routes running TLS
 * with its certificate inside the proxy's TLS. Both end in a TLS stream whose
 * client certificate, signed by the user CA, names the database; the proxy
 * checks expiry and locks, dials a Database Service serving it, sends the
 * certificate first (`api/dbwire.ts`) and relays bytes. The service decides
 * the rest itself.
 */
export class DbProxy {
  private ctx: { key: string; value: tls.SecureContext } | undefined;
  /** Chain checks and identity decoding, once per certificate (validity is still checked per connection). */
  private readonly verified = new VerifiedIdentityCache();
  private readonly chains = new Map<string, string>();

  constructor(private readonly o: DbProxyOptions) {}

  /** A raw connection the multiplexer classified as Postgres (SSLRequest, GSSENCRequest, StartupMessage). */
  handlePostgres(socket: net.Socket | Duplex, info: { remoteAddr: string }): void {
    let buf = Buffer.alloc(0);
    const deadline = setTimeout(() => socket.destroy(), this.timeout);
    const stop = () => {
      clearTimeout(deadline);
      socket.off("data", onData);
    };
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        const step = pgPreTlsStep(buf);
        switch (step.action) {
          case "need-more":
            return;
          case "no-gssenc":
            buf = buf.subarray(step.consumed);
            socket.write("N");
            continue;
          case "close":
            stop();
            socket.destroy();
            return;
          case "refuse":
            stop();
            this.refused({ protocol: "postgres", clientAddr: info.remoteAddr, reason: step.message });
            socket.end(pgErrorResponse(step.message));
            return;
          case "tls": {
            stop();
            socket.pause();
            const rest = buf.subarray(step.consumed);
            if (rest.length > 0) socket.unshift(rest);
            socket.write("S");
            this.terminateTls(socket, "postgres", info.remoteAddr);
            return;
          }
        }
      }
    };
    socket.on("error", () => socket.destroy());
    socket.on("data", onData);
    // The multiplexer pauses the socket when it hands it over.
    socket.resume();
  }

  /** The `jumpgate-postgres` / `jumpgate-mysql` routes: the client runs TLS with its certificate inside. */
  handleAlpn(stream: Duplex, info: { remoteAddr: string; alpn?: string }): void {
    const protocol: DbWireProtocol = info.alpn === "jumpgate-mysql" ? "mysql" : "postgres";
    this.terminateTls(stream, protocol, info.remoteAddr);
  }

  private get timeout(): number {
    return this.o.handshakeTimeoutMs ?? 10_000;
  }

  private secureContext(): tls.SecureContext {
    const pair = this.o.serverTls();
    const cas = this.o.userCas();
    const key = `${pair.cert}\n${cas.join("\n")}`;
    if (this.ctx?.key !== key) {
      // The user CA is named in CertificateRequest so clients pick the right certificate; the chain is checked below.
      // Its session tickets let jsh resume (the session keeps the client certificate, which route() checks again each time);
      // OpenSSL resumes sessions of a context that asks for certificates only when it has a session id context.
      this.ctx = {
        key,
        value: tls.createSecureContext({ cert: pair.cert, key: pair.key, ca: cas, minVersion: "TLSv1.2", sessionIdContext: "jumpgate-db" }),
      };
    }
    return this.ctx.value;
  }

  private terminateTls(outer: Duplex, protocol: DbWireProtocol, clientAddr: string): void {
    let s: tls.TLSSocket;
    try {
      // rejectUnauthorized off: a foreign or expired certificate gets a protocol error the client prints, not a TLS alert.
      s = new tls.TLSSocket(outer as net.Socket, {
        isServer: true,
        secureContext: this.secureContext(),
        requestCert: true,
        rejectUnauthorized: false,
      });
    } catch (e) {
      this.o.log.warn({ err: String(e) }, "database proxy: cannot start TLS");
      outer.destroy();
      return;
    }
    const timer = setTimeout(() => s.destroy(), this.timeout);
    s.on("error", (e) => {
      clearTimeout(timer);
      this.o.log.debug({ clientAddr, err: e.message }, "database proxy: TLS failed");
      s.destroy();
      outer.destroy();
    });
    s.once("close", () => outer.destroy());
    s.once("secure", () => {
      clearTimeout(timer);
      void this.route(s, protocol, clientAddr);
    });
  }

  private async route(s: tls.TLSSocket, protocol: DbWireProtocol, clientAddr: string): Promise<void> {
    let id: Identity | undefined;
    let database: string | undefined;
    try {
      const peer = s.getPeerX509Certificate();
      if (!peer) throw new Refusal("no client certificate: log in to the database first (jsh db login NAME)");
      try {
        id = this.verified.verify(peer, this.o.userCas(), this.o.clock);
      } catch (e) {
        throw new Refusal(`client certificate refused: ${isJumpgateError(e) ? e.message : "invalid certificate"}`);
      }
      const route = id.routeToDatabase;
      if (id.kind === "host" || !route || route.serviceName === "") {
        throw new Refusal("this certificate is not for a database: run jsh db login NAME");
      }
      database = route.serviceName;
      // jsh names the database it means in the inner SNI: a certificate for another one is refused, not rerouted.
      const asked = databaseFromSni(s.servername);
      if (asked !== undefined && asked !== database) {
        const cert = database;
        database = asked;
        throw new Refusal(`this certificate is for database ${cert}, not ${asked}: run jsh db login ${asked}`);
      }
      if (route.protocol !== "" && route.protocol !== protocol) {
        throw new Refusal(`database ${database} speaks ${route.protocol}, not ${protocol}`);
      }
      const lock = await this.o.lockedBy({ user: id.username, roles: id.roles });
      if (lock) throw new Refusal(lock);
      const servers = (await this.o.findServers(database)).filter((x) => x.protocol === "" || x.protocol === protocol);
      if (servers.length === 0) throw new Refusal(`database ${database} is not available: no Database Service serves it`);
      const upstream = await this.dialAny(servers, { clientAddr, target: `db:${database}` });
      upstream.write(encodeDbHeader({ cert: this.chainPem(s, peer), clientAddr, database }));
      setNoDelay(upstream);
      setNoDelay(s);
      relay(s, upstream);
    } catch (e) {
      const reason = e instanceof Refusal || isJumpgateError(e) ? e.message : "internal error";
      if (!(e instanceof Refusal) && !isJumpgateError(e)) this.o.log.error({ err: String(e) }, "database proxy: routing failed");
      this.refused({ protocol, clientAddr, reason, ...(id ? { user: id.username } : {}), ...(database ? { database } : {}) });
      refuse(s, protocol, reason);
    }
  }

  /** The client's chain as PEM for the header, built once per certificate (a resumed session presents the same one). */
  private chainPem(s: tls.TLSSocket, peer: X509Certificate): string {
    const key = peer.raw.toString("base64");
    let pem = this.chains.get(key);
    if (pem === undefined) {
      pem = peerChainPem(s, peer);
      if (this.chains.size >= 10_000) this.chains.clear();
      this.chains.set(key, pem);
    }
    return pem;
  }

  private async dialAny(servers: DbServerRoute[], info: { clientAddr: string; target: string }): Promise<Duplex> {
    // Several services may serve one database (high availability): try them in random order.
    const order = [...servers].sort(() => Math.random() - 0.5);
    let last: unknown;
    for (const srv of order) {
      try {
        return await this.o.dial(srv, info);
      } catch (e) {
        last = e;
        this.o.log.debug({ hostId: srv.hostId, err: String(e) }, "database proxy: dial failed");
      }
    }
    throw last instanceof Error ? last : new Refusal("cannot reach a Database Service");
  }

  private refused(r: DbRefusal): void {
    this.o.log.info({ ...r }, "database connection refused");
    try {
      this.o.onRefused?.(r);
    } catch {
      // auditing a refusal never breaks the refusal
    }
  }
}

/** Sends the refusal the client prints (a MySQL client is greeted first, so it prints ERROR 1045). */
function refuse(s: Duplex, protocol: DbWireProtocol, message: string): void {
  sendDbRefusal(s, protocol, message);
}

function setNoDelay(d: Duplex): void {
  const sock = d as Duplex & { setNoDelay?: (v: boolean) => unknown };
  if (typeof sock.setNoDelay === "function") sock.setNoDelay(true);
}
