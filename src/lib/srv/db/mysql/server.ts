/**
 * The MySQL engine: greets the client with a handshake of our own (no TLS:
 * the proxy terminated it), takes any password (identity comes from the
 * certificate the proxy verified), asks the service whether the requested
 * database user and name are allowed, logs in to the server and relays.
 *
 * Password login: the service knows one server account and its password, so
 * a session may only be for that database user; any other user is refused
 * with a message naming the one it accepts (as for PostgreSQL). Certificate
 * login: the service presents a db-CA certificate for the requested user
 * over TLS (MariaDB `REQUIRE X509`/`REQUIRE SUBJECT` accounts).
 *
 * The greeting offers a fixed set of flags every MySQL 5.7+/MariaDB 10.2+
 * server supports, and the server is then asked for exactly what the client
 * chose, so packets relay unchanged. The version string mirrors the server's
 * once one session reached it (clients adapt to MariaDB vs MySQL by it).
 */
import { randomBytes } from "node:crypto";
import type { Duplex } from "node:stream";
import { isJumpgateError } from "../../../../api/errors.ts";
import type { DbEngine, DbSessionContext } from "../engine.ts";
import { SessionTracker } from "./audit.ts";
import { packet } from "./codec.ts";
import { codeOf, ER, type ErrCode, MysqlServerError, reasonOf } from "./errors.ts";
import { PacketIO } from "./io.ts";
import * as m from "./messages.ts";
import { relay } from "./session.ts";
import { connectUpstream, type Upstream } from "./upstream.ts";

/** How long a client has to answer our handshake, and the server to log us in. */
export const LOGIN_TIMEOUT_MS = 30_000;
export const UPSTREAM_TIMEOUT_MS = 20_000;
/** The largest login packet a client may send (connection attributes included). */
const MAX_LOGIN_PACKET = 256 * 1024;
/** Version announced until a session has reached the server. */
export const DEFAULT_SERVER_VERSION = "8.0.0-Jumpgate";
/** utf8mb4_general_ci: known to MySQL and MariaDB alike. */
const DEFAULT_CHARSET = 45;

const serverVersions = new Map<string, string>();
let nextConnectionId = 1;

/** A 20-byte scramble of printable characters (some clients treat it as a C string). */
export function newScramble(): Buffer {
  return Buffer.from(randomBytes(20).map((b) => 0x21 + (b % 94)));
}

function noDelay(s: Duplex): void {
  const sock = s as Duplex & { setNoDelay?: (v: boolean) => unknown };
  if (typeof sock.setNoDelay === "function") sock.setNoDelay(true);
}

function closed(s: Duplex): Promise<void> {
  if (s.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    s.once("close", () => resolve());
    setTimeout(() => s.destroy(), 5000).unref();
  });
}

async function handle(client: Duplex, ctx: DbSessionContext): Promise<void> {
  noDelay(client);
  client.on("error", (e: Error) => ctx.log.debug({ err: e.message }, "mysql client stream error"));
  const io = new PacketIO(client, "the client", MAX_LOGIN_PACKET);
  const deadline = Date.now() + LOGIN_TIMEOUT_MS;
  const sendErr = (seq: number, code: ErrCode, message: string) => {
    if (client.writable) client.end(packet(seq, m.encodeErr(code.errno, code.sqlState, message)));
  };

  io.write(
    0,
    m.encodeGreeting({
      serverVersion: serverVersions.get(ctx.database.uri) ?? DEFAULT_SERVER_VERSION,
      connectionId: nextConnectionId++ >>> 0,
      scramble: newScramble(),
      capabilities: m.SERVER_CAPS,
      mariadbCapabilities: 0,
      charset: DEFAULT_CHARSET,
      status: m.STATUS.AUTOCOMMIT,
      authPlugin: m.NATIVE_PASSWORD,
    }),
  );
  let login: m.ClientLogin;
  let seq: number;
  try {
    const p = await io.read(deadline);
    seq = p.lastSeq + 1;
    login = m.decodeClientLogin(p.payload);
  } catch (e) {
    ctx.log.debug({ err: reasonOf(e) }, "mysql login failed");
    io.detach();
    sendErr(2, codeOf(e), reasonOf(e));
    return closed(client);
  }
  if (login.kind === "ssl-request") {
    io.detach();
    sendErr(seq, ER.handshake, "TLS is not available here: Jumpgate already encrypts this connection; connect without TLS (--ssl-mode=DISABLED or --skip-ssl)");
    return closed(client);
  }
  const hello = login.response;
  const clientRest = io.detach();
  await session(client, ctx, hello, seq, clientRest, sendErr);
}

async function session(
  client: Duplex,
  ctx: DbSessionContext,
  hello: m.HandshakeResponse,
  seq: number,
  clientRest: Buffer,
  sendErr: (seq: number, code: ErrCode, message: string) => void,
): Promise<void> {
  const dbUser = hello.user;
  const dbName = hello.database;
  const base = {
    user: ctx.identity.user,
    sid: ctx.sessionId,
    db_service: ctx.database.name,
    db_protocol: "mysql",
    db_uri: ctx.database.uri,
    db_user: dbUser,
    db_name: dbName,
    server_hostname: ctx.serviceName,
    "addr.remote": ctx.clientAddr,
  };
  const refuse = (code: ErrCode, message: string) => {
    ctx.emit({
      event: "db.session.start",
      ...base,
      success: false,
      error: message,
    });
    sendErr(seq, code, message);
    return closed(client);
  };

  try {
    await ctx.authorize(dbUser, dbName);
  } catch (e) {
    return refuse(isJumpgateError(e, "access-denied") ? ER.accessDenied : codeOf(e), reasonOf(e));
  }
  const auth = ctx.database.auth;
  if (auth.kind === "password" && auth.user !== dbUser) {
    return refuse(
      ER.accessDenied,
      `database "${ctx.database.name}" accepts only the database user "${auth.user}" (the service logs in with its password); connect with --db-user=${auth.user}`,
    );
  }

  let upstream: Upstream;
  try {
    const credentials = auth.kind === "cert" ? await ctx.serverCredentials(dbUser) : undefined;
    const attributes = new Map(hello.attributes);
    attributes.set("jumpgate_user", ctx.identity.user);
    attributes.set("jumpgate_session", ctx.sessionId);
    upstream = await connectUpstream({
      target: ctx.database,
      user: dbUser,
      password: auth.kind === "password" ? auth.password : undefined,
      database: dbName,
      client: {
        capabilities: hello.capabilities & m.SERVER_CAPS,
        charset: hello.charset,
        maxPacketSize: hello.maxPacketSize,
        attributes,
      },
      ...(credentials ? { credentials } : {}),
      timeoutMs: UPSTREAM_TIMEOUT_MS,
    });
  } catch (e) {
    if (e instanceof MysqlServerError) return refuse({ errno: e.errno, sqlState: e.sqlState }, e.message);
    ctx.log.info(
      {
        err: reasonOf(e),
        detail: isJumpgateError(e) ? e.detail : undefined,
        db: ctx.database.name,
      },
      "cannot connect to the database server",
    );
    return refuse(codeOf(e), `cannot connect to database "${ctx.database.name}": ${reasonOf(e)}`);
  }
  serverVersions.set(ctx.database.uri, upstream.greeting.serverVersion);
  noDelay(upstream.socket);

  client.write(packet(seq, upstream.ok));
  ctx.emit({ event: "db.session.start", ...base, success: true });
  ctx.log.debug(
    {
      sid: ctx.sessionId,
      db: ctx.database.name,
      db_user: dbUser,
      db_name: dbName,
    },
    "mysql session started",
  );
  const deprecateEof = (hello.capabilities & m.SERVER_CAPS & upstream.greeting.capabilities & m.CAP.DEPRECATE_EOF) !== 0;
  const end = await relay({
    client,
    upstream: upstream.socket,
    clientRest,
    upstreamRest: upstream.rest,
    tracker: new SessionTracker(deprecateEof),
    audit: ctx.database.auditQueries ? (rec) => ctx.emit({ event: "db.session.query", ...base, ...rec }) : undefined,
    authorizeDatabase: (name) => ctx.authorize(dbUser, name),
  });
  if (end.reason === "upstream-lost" || end.reason === "protocol-error") {
    ctx.log.info({ sid: ctx.sessionId, reason: end.reason, err: end.error }, "mysql session ended abnormally");
  }
  ctx.emit({
    event: "db.session.end",
    ...base,
    reason: end.reason,
    ...(end.error === undefined ? {} : { error: end.error }),
  });
}

export const mysqlEngine: DbEngine = {
  protocol: "mysql",
  async handle(client: Duplex, ctx: DbSessionContext): Promise<void> {
    try {
      await handle(client, ctx);
    } catch (e) {
      ctx.log.warn({ err: reasonOf(e), detail: e instanceof Error ? e.stack : String(e) }, "mysql engine failed");
      client.destroy();
    }
  },
};
