import { randomUUID } from "node:crypto";
import type { Duplex } from "node:stream";
import type { Logger } from "pino";
import type { Clock } from "../../../api/clock.ts";
import { type DbConnHeader, decodeDbHeader, MAX_DB_HEADER_BYTES, sendDbRefusal } from "../../../api/dbwire.ts";
import { accessDenied, isJumpgateError } from "../../../api/errors.ts";
import type { Role } from "../../../api/resources/index.ts";
import { type Identity, VerifiedIdentityCache } from "../../crypto/index.ts";
import { AccessChecker } from "../../rbac/index.ts";
import type { DatabaseTarget, DbEngine, DbIdentity, DbProtocol, DbSessionContext } from "./engine.ts";

export interface DatabaseServiceOptions {
  /** This service's host id and name (audit, `db_server` entries). */
  hostId: string;
  nodeName: string;
  /** The databases served right now (configured plus matched `db` resources). */
  databases(): DatabaseTarget[];
  engines: Partial<Record<DbProtocol, DbEngine>>;
  /** User CA certificates (PEM): the only trust anchors for client certificates. */
  userCas(): string[];
  /** The user's *current* roles and traits from Auth; undefined when the user no longer exists. */
  getUser(name: string): Promise<{ roles: string[]; traits: Record<string, string[]> } | undefined>;
  getRole(name: string): Promise<Role | undefined>;
  /** A lock in force on the user or one of the roles: its message; undefined when none. */
  lockedBy(who: { user: string; roles: string[] }): Promise<string | undefined>;
  /** A client certificate for `dbUser` signed by the db CA (Auth's GenerateDatabaseCert). */
  serverCredentials(dbUser: string, database: DatabaseTarget): Promise<{ cert: string; key: string; cas: string[] }>;
  /** Queues an audit event (disk-backed); never throws. */
  audit(e: Record<string, unknown> & { event: string }): void;
  clock: Clock;
  log: Logger;
  /** How long the proxy may take to send the connection header; default 10 s. */
  headerTimeoutMs?: number;
}

/**
 * The Database Service's side of a connection (DESIGN §6): reads the header
 * the proxy sends first (`api/dbwire.ts`), verifies the client certificate in
 * it against the user CA itself — expiry, locks, and that its route names a
 * database served here — builds the session context (RBAC on the user's
 * current roles, credentials towards the server, audit) and hands the stream
 * to the protocol engine. A refusal before the engine reaches the client as a
 * protocol error it prints.
 */
export class DatabaseService {
  private readonly active = new Set<Duplex>();
  private closed = false;
  /** Chain checks and identity decoding, once per certificate (validity is still checked per connection). */
  private readonly verified = new VerifiedIdentityCache();

  constructor(private readonly o: DatabaseServiceOptions) {}

  /** Sessions in progress (renewal waits for none). */
  activeSessions(): number {
    return this.active.size;
  }

  /** One stream from the proxy (a reverse-tunnel dial with target `db:NAME`, or a direct connection). */
  async handleConnection(stream: Duplex, info: { clientAddr: string; target?: string }): Promise<void> {
    if (this.closed) {
      stream.destroy();
      return;
    }
    this.active.add(stream);
    stream.once("close", () => this.active.delete(stream));
    stream.on("error", () => stream.destroy());
    const wanted = info.target?.startsWith("db:") ? info.target.slice(3) : undefined;
    let header: DbConnHeader;
    try {
      header = await readHeader(stream, this.o.headerTimeoutMs ?? 10_000);
    } catch (e) {
      this.o.log.warn({ clientAddr: info.clientAddr, err: isJumpgateError(e) ? e.message : String(e) }, "database connection without a valid header");
      stream.destroy();
      return;
    }
    const named = wanted ?? header.database;
    const database = this.o.databases().find((d) => d.name === named);
    const protocol: DbProtocol = database?.protocol ?? "postgres";
    const clientAddr = header.clientAddr || info.clientAddr;
    let identity: Identity | undefined;
    try {
      if (wanted !== undefined && wanted !== header.database) throw accessDenied(`the proxy routed a connection for ${header.database} to ${wanted}`);
      if (!database) throw accessDenied(`database ${named} is not served by ${this.o.nodeName}`);
      identity = this.verify(header.cert);
      const route = identity.routeToDatabase;
      if (!route || route.serviceName !== database.name) {
        throw accessDenied(`this certificate is for database ${route?.serviceName ?? "(none)"}, not ${database.name}: run jsh db login ${database.name}`);
      }
      if (route.protocol !== "" && route.protocol !== database.protocol) {
        throw accessDenied(`database ${database.name} speaks ${database.protocol}, not ${route.protocol}`);
      }
      const user = await this.o.getUser(identity.username);
      if (!user) throw accessDenied(`user ${identity.username} does not exist`);
      const lock = await this.o.lockedBy({ user: identity.username, roles: user.roles });
      if (lock) throw accessDenied(lock);
      const engine = this.o.engines[database.protocol];
      if (!engine) throw accessDenied(`${database.protocol} is not supported by this Database Service yet`);
      const ctx = this.sessionContext(identity, database, clientAddr);
      await engine.handle(stream, ctx);
    } catch (e) {
      const reason = isJumpgateError(e) ? e.message : "internal error";
      if (!isJumpgateError(e)) this.o.log.error({ err: String(e) }, "database session failed");
      this.o.audit({
        event: "db.session.start",
        success: false,
        error: reason,
        sid: randomUUID(),
        ...(identity ? { user: identity.username } : {}),
        db_service: named,
        db_protocol: protocol,
        db_user: identity?.routeToDatabase?.username ?? "",
        db_name: identity?.routeToDatabase?.database ?? "",
        addr_remote: clientAddr,
      });
      refuse(stream, protocol, reason);
    }
  }

  /** Stops taking connections; sessions in progress go on until they end. */
  close(): void {
    this.closed = true;
  }

  private verify(pem: string): Identity {
    // The first certificate of the chain is the client's; the user CA signs it directly.
    const leaf = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/.exec(pem)?.[0];
    if (!leaf) throw accessDenied("no client certificate");
    try {
      const id = this.verified.verify(leaf, this.o.userCas(), this.o.clock);
      if (id.kind === "host") throw accessDenied("a host certificate cannot open database sessions");
      return id;
    } catch (e) {
      throw accessDenied(`client certificate refused: ${isJumpgateError(e) ? e.message : "invalid certificate"}`);
    }
  }

  private sessionContext(id: Identity, database: DatabaseTarget, clientAddr: string): DbSessionContext {
    const route = id.routeToDatabase ?? { serviceName: database.name, protocol: database.protocol, username: "", database: "" };
    const identity: DbIdentity = { user: id.username, roles: id.roles, traits: id.traits, route, expires: id.expires };
    const sessionId = randomUUID();
    const o = this.o;
    return {
      sessionId,
      identity,
      database,
      clientAddr,
      serviceName: o.nodeName,
      log: o.log.child({ sid: sessionId, user: id.username, db: database.name }),
      authorize: async (dbUser, dbName) => {
        if (route.username !== "" && dbUser !== route.username) {
          throw accessDenied(`access to db denied: this certificate is for database user "${route.username}", not "${dbUser}"`);
        }
        if (route.database !== "" && dbName !== route.database) {
          throw accessDenied(`access to db denied: this certificate is for database "${route.database}", not "${dbName}"`);
        }
        if (o.clock.now().getTime() > id.expires.getTime()) throw accessDenied("access to db denied: the certificate has expired");
        const user = await o.getUser(id.username);
        if (!user) throw accessDenied(`access to db denied: user ${id.username} does not exist`);
        const lock = await o.lockedBy({ user: id.username, roles: user.roles });
        if (lock) throw accessDenied(`access to db denied: ${lock}`);
        const roles = (await Promise.all(user.roles.map((name) => o.getRole(name)))).filter((r): r is Role => r !== undefined);
        const d = new AccessChecker(roles, user.traits).checkDatabaseAccess({ labels: database.labels }, dbUser, dbName);
        if (!d.allowed) throw accessDenied(`access to db denied: ${d.reason}`);
      },
      serverCredentials: (dbUser) => o.serverCredentials(dbUser, database),
      emit: (event) => {
        try {
          o.audit({
            ...event,
            event: String(event.event ?? "db.session.unknown"),
            server_id: o.hostId,
            server_hostname: o.nodeName,
          });
        } catch (e) {
          o.log.warn({ err: String(e) }, "cannot queue an audit event");
        }
      },
    };
  }
}

/** Reads the proxy's header from the start of the stream; what follows it is put back. */
export function readHeader(stream: Duplex, timeoutMs: number): Promise<DbConnHeader> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const done = (err: Error | undefined, h?: DbConnHeader, rest?: Buffer) => {
      clearTimeout(timer);
      stream.off("data", onData);
      stream.off("end", onEnd);
      stream.pause();
      if (rest && rest.length > 0) stream.unshift(rest);
      if (err || !h) reject(err ?? new Error("no header"));
      else resolve(h);
    };
    const timer = setTimeout(() => done(new Error("timed out waiting for the connection header")), timeoutMs);
    const onEnd = () => done(new Error("connection closed before the header"));
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      try {
        const r = decodeDbHeader(buf);
        if (r.kind === "ok") done(undefined, r.header, buf.subarray(r.consumed));
        else if (buf.length > MAX_DB_HEADER_BYTES + 8) done(new Error("connection header too large"));
      } catch (e) {
        done(e instanceof Error ? e : new Error(String(e)));
      }
    };
    stream.on("data", onData);
    stream.on("end", onEnd);
    stream.resume();
  });
}

/** Sends the refusal the client prints (a MySQL client is greeted first, so it prints ERROR 1045). */
function refuse(s: Duplex, protocol: DbProtocol, message: string): void {
  sendDbRefusal(s, protocol, message);
}
