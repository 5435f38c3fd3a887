/**
 * The node's SSH server: presents the host certificate, authenticates users by
 * their OpenSSH user certificate only, asks the authorizer, and hands the
 * connection to SshConnection. Refusals reach the user as one banner line
 * (OpenSSH prints banners) and the audit log as an `auth` event.
 */
import { createHash, type KeyObject } from "node:crypto";
import net from "node:net";
import { Duplex } from "node:stream";
import type { Logger } from "pino";
import ssh2, { type AuthContext, type AuthenticationType, type Connection } from "ssh2";
import type { Clock } from "../../../api/clock.ts";
import { badParameter, isJumpgateError } from "../../../api/errors.ts";
import { parseCertificate, publicKeysEqual, type SshCertificate, verifyCertificate, verifySshSignature } from "../../crypto/index.ts";
import { CHANNEL_OPTIONS, certificateKey } from "../../ssh/index.ts";
import type { AuthorizeResult, NodeAuthorizer } from "./authorizer.ts";
import { type AuditFn, type ConnIdentity, type ServiceDeps, SshConnection } from "./connection.ts";
import { AUTH_METHODS, hostOfAddr, NO_CERTIFICATE, reasonOf, refusalBanner } from "./errors.ts";
import { checkCanRunAs, type LoginLookup, lookupLogin } from "./oslogin.ts";
import type { RecorderFactory, SessionChannel } from "./session.ts";
import { type PatchedConnection, patched } from "./ssh2ext.ts";
import type { TrackerSink } from "./tracker.ts";

export interface SshServiceOptions {
  /** The host's Ed25519 private key. */
  hostKey: KeyObject;
  /** Its OpenSSH host certificate (a `-cert.pub` line). */
  hostCertificate: string;
  hostId: string;
  nodeName: string;
  clusterName: string;
  authorizer: NodeAuthorizer;
  audit: AuditFn;
  recorders?: RecorderFactory;
  clock: Clock;
  log: Logger;
  /** How long a connection may take to authenticate; default 30 s. */
  authTimeoutMs?: number;
  /** Resolves OS logins; default `getent passwd`. For tests. */
  lookupLogin?: LoginLookup;
  /** Where interactive sessions' trackers go (Auth), for `jsh sessions ls` and `jsh join`. */
  trackers?: TrackerSink;
}

const MAX_AUTH_ATTEMPTS = 20;

/** Per-connection authentication state. */
interface AuthState {
  remoteAddr: string;
  /** The login asked for by the latest attempt. */
  login: string;
  attempts: number;
  certOffered: boolean;
  plainKeyOffered: boolean;
  explained: boolean;
  banners: Set<string>;
  decisions: Map<string, Promise<{ ok: ConnIdentity } | { refused: string; user: string }>>;
  ok: ConnIdentity | undefined;
}

export class SshService {
  private readonly server: ssh2.Server;
  private readonly deps: ServiceDeps;
  private readonly lookup: LoginLookup;
  private readonly conns = new Set<SshConnection>();
  private readonly raw = new Set<Duplex>();
  private readonly active = new Map<string, SessionChannel>();
  private readonly running = new Set<Promise<void>>();
  private listener: net.Server | undefined;
  private authenticated: { has(s: Duplex): boolean; add(s: Duplex): unknown } = new WeakSet<Duplex>();
  private closing = false;

  constructor(private readonly o: SshServiceOptions) {
    const cert = parseCertificate(o.hostCertificate);
    if (cert.type !== "host") throw badParameter("the host certificate is not a host certificate");
    if (!publicKeysEqual(cert.publicKey, o.hostKey)) throw badParameter("the host certificate is not for the host key");
    const log = o.log.child({ component: "ssh" });
    this.lookup = o.lookupLogin ?? ((login) => lookupLogin(login, o.nodeName));
    this.deps = {
      hostId: o.hostId,
      nodeName: o.nodeName,
      clusterName: o.clusterName,
      audit: o.audit,
      ...(o.recorders ? { recorders: o.recorders } : {}),
      ...(o.trackers ? { trackers: o.trackers } : {}),
      clock: o.clock,
      log,
      findParty: (id) => this.active.get(id)?.joinable(),
      authorizeJoin: (req) => o.authorizer.authorizeJoin?.(req) ?? Promise.resolve({ allowed: false, reason: "this node does not allow joining sessions" }),
      track: (s) => {
        this.active.set(s.id, s);
        const done = new Promise<void>((resolve) => s.onDone(resolve));
        this.running.add(done);
        s.onDone(() => {
          this.active.delete(s.id);
          this.running.delete(done);
        });
      },
    };
    const hostKey = certificateKey(o.hostKey, o.hostCertificate);
    const debug = log.isLevelEnabled("trace") ? { debug: (m: string) => log.trace(m) } : {};
    this.server = new ssh2.Server({ hostKeys: [{ key: hostKey }], ident: "Jumpgate", ...CHANNEL_OPTIONS, ...debug }, (client, info) =>
      this.onClient(client, info.ip),
    );
  }

  /** Serves an SSH connection arriving on any stream (e.g. a reverse-tunnel channel from the proxy). */
  handleConnection(stream: Duplex, info: { remoteAddr: string }): void {
    if (this.closing) return void stream.destroy();
    // ssh2 reads the peer's address from the stream: a tunnel's stream has none, or the proxy's.
    Object.defineProperty(stream, "remoteAddress", { value: info.remoteAddr, configurable: true });
    this.raw.add(stream);
    // A deadline for the handshake and authentication, counted from the first byte (ssh2 has none).
    const deadline = setTimeout(() => {
      if (!this.authenticated.has(stream)) stream.destroy();
    }, this.o.authTimeoutMs ?? 30_000);
    deadline.unref();
    stream.once("close", () => {
      clearTimeout(deadline);
      this.raw.delete(stream);
    });
    this.server.injectSocket(stream as net.Socket);
  }

  /** Listens on host:port (0 for any free port) and resolves the port. */
  listen(host: string, port: number): Promise<number> {
    const srv = net.createServer((sock) => {
      sock.setNoDelay(true);
      this.handleConnection(sock, { remoteAddr: sock.remoteAddress ?? "" });
    });
    this.listener = srv;
    return new Promise((resolve, reject) => {
      srv.once("error", reject);
      srv.listen(port, host, () => {
        srv.off("error", reject);
        const a = srv.address();
        resolve(typeof a === "object" && a ? a.port : port);
      });
    });
  }

  activeSessions(): { sessionId: string; user: string; login: string; start: Date }[] {
    return [...this.active.values()].map((s) => s.describe());
  }

  /** Stops listening, hangs up every session and connection, and waits for recordings to close. */
  async close(): Promise<void> {
    this.closing = true;
    const listener = this.listener;
    const stopped = listener ? new Promise<void>((r) => listener.close(() => r())) : Promise.resolve();
    for (const c of this.conns) c.end();
    for (const s of this.raw) s.destroy();
    const wait = Promise.all([...this.running]);
    await Promise.race([wait, new Promise((r) => setTimeout(r, 5_000).unref())]);
    await stopped;
  }

  /** Exempts the connection's stream from the authentication deadline. */
  private markAuthenticated(conn: Connection): void {
    // ssh2 keeps the stream as `_sock`; should that ever change, the deadline is turned off rather than cutting sessions.
    const sock: unknown = (conn as unknown as { _sock?: unknown })._sock;
    if (sock instanceof Duplex) this.authenticated.add(sock);
    else this.authenticated = { has: () => true, add: () => undefined };
  }

  private onClient(conn: Connection, ip: string | undefined): void {
    const client = patched(conn);
    const st: AuthState = {
      remoteAddr: ip ?? "",
      login: "",
      attempts: 0,
      certOffered: false,
      plainKeyOffered: false,
      explained: false,
      banners: new Set(),
      decisions: new Map(),
      ok: undefined,
    };
    client.on("error", (e: Error) => this.deps.log.debug({ err: e.message, addr: st.remoteAddr }, "SSH connection error"));
    client.on("authentication", (ctx) => {
      this.authenticate(client, ctx, st).catch((e: unknown) => {
        this.deps.log.error({ err: e instanceof Error ? e.stack : String(e) }, "authentication failed unexpectedly");
        ctx.reject(AUTH_METHODS);
      });
    });
    client.on("ready", () => {
      this.markAuthenticated(conn);
      if (!st.ok || this.closing) return void client.end();
      const c = new SshConnection(client, st.ok, this.deps);
      this.conns.add(c);
      client.once("close", () => this.conns.delete(c));
    });
    client.on("close", () => {
      // A client that only offered plain keys and left without trying keyboard-interactive.
      if (!client.authenticated && !st.certOffered && st.plainKeyOffered && !st.explained) {
        this.auditRefusal(st, "", st.login, NO_CERTIFICATE);
      }
    });
  }

  private auditRefusal(st: AuthState, user: string, login: string, reason: string): void {
    this.o.audit({
      event: "auth",
      success: false,
      user,
      login,
      error: reason,
      addr_remote: st.remoteAddr,
      server_id: this.o.hostId,
      server_hostname: this.o.nodeName,
    });
  }

  /** One line on the user's terminal and one audit event per distinct refusal on a connection. */
  private refuse(client: PatchedConnection, ctx: AuthContext, st: AuthState, user: string, reason: string, methods: AuthenticationType[] = AUTH_METHODS): void {
    const text = refusalBanner(reason);
    if (!st.banners.has(text)) {
      st.banners.add(text);
      client.authBanner(text);
      this.auditRefusal(st, user, ctx.username, reason);
    }
    st.explained = true;
    ctx.reject(methods);
  }

  private async authenticate(client: PatchedConnection, ctx: AuthContext, st: AuthState): Promise<void> {
    st.login = ctx.username;
    if (++st.attempts > MAX_AUTH_ATTEMPTS) {
      ctx.reject([]);
      client.end();
      return;
    }
    if (ctx.method === "keyboard-interactive") {
      // Only offered so that a client that had nothing but plain keys hears why it was refused.
      if (!st.certOffered && !st.explained) return this.refuse(client, ctx, st, "", NO_CERTIFICATE, ["publickey"]);
      return ctx.reject(["publickey"]);
    }
    if (ctx.method !== "publickey") return ctx.reject(AUTH_METHODS);
    if (!ctx.key.algo.endsWith("-cert-v01@openssh.com")) {
      // Possibly an agent key tried before the certificate: refused quietly, explained at the end if need be.
      st.plainKeyOffered = true;
      return ctx.reject(AUTH_METHODS);
    }
    st.certOffered = true;
    const key = `${ctx.username}\0${createHash("sha256").update(ctx.key.data).digest("base64")}`;
    let decision = st.decisions.get(key);
    if (!decision) {
      decision = this.decide(ctx.key.algo, ctx.key.data, ctx.username, st.remoteAddr);
      st.decisions.set(key, decision);
    }
    const d = await decision;
    if ("refused" in d) return this.refuse(client, ctx, st, d.user, d.refused);
    if (!ctx.signature || !ctx.blob) return ctx.accept(); // a query: "would this key do?"
    if (!verifySshSignature(d.ok.cert.publicKey, ctx.blob, ctx.signature)) {
      return this.refuse(client, ctx, st, d.ok.user, "the signature does not match the certificate's key");
    }
    st.ok = d.ok;
    ctx.accept();
  }

  /** Verifies the certificate for the login, asks the authorizer, resolves the OS login. */
  private async decide(algo: string, blob: Buffer, login: string, remoteAddr: string): Promise<{ ok: ConnIdentity } | { refused: string; user: string }> {
    let cert: SshCertificate;
    try {
      cert = parseCertificate(blob);
    } catch {
      return { refused: "the certificate cannot be parsed", user: "" };
    }
    const user = cert.keyId;
    if (cert.algorithm !== algo) return { refused: "the certificate does not match its algorithm", user };
    try {
      verifyCertificate(cert, {
        trustedCaKeys: this.o.authorizer.trustedUserCaKeys(),
        type: "user",
        clock: this.o.clock,
        sourceAddress: hostOfAddr(remoteAddr),
      });
    } catch (e) {
      return { refused: reasonOf(e), user };
    }
    if (!cert.principals.includes(login)) {
      const logins = cert.principals.length > 0 ? cert.principals.join(", ") : "none";
      return { refused: `login ${JSON.stringify(login)} is not in your certificate (its logins: ${logins})`, user };
    }
    let r: AuthorizeResult;
    try {
      r = await this.o.authorizer.authorize({ user, login, cert, remoteAddr });
    } catch (e) {
      this.deps.log.error({ err: e instanceof Error ? e.message : String(e) }, "authorizer failed");
      return { refused: isJumpgateError(e) ? reasonOf(e) : "cannot check access right now", user };
    }
    if (!r.allowed) return { refused: r.reason, user };
    try {
      const os = await this.lookup(login);
      checkCanRunAs(os, this.o.nodeName);
      return { ok: { user, login, os, policy: r.policy, cert, remoteAddr } };
    } catch (e) {
      return { refused: reasonOf(e), user };
    }
  }
}
