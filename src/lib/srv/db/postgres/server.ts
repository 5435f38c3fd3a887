/**
 * The PostgreSQL engine: reads the client's startup (the proxy already
 * terminated its TLS, so a further SSLRequest or GSSENCRequest is answered
 * `N`), asks the service whether the requested database user and name are
 * allowed, logs in to the server with the service's credentials, gives the
 * client the server's parameters with a cancel key of our own, and relays.
 *
 * Password login: the service knows one server account and its password, so
 * a session may only be for that database user; any other user is refused
 * with a message naming the one it accepts. Certificate login: the service
 * presents a db-CA certificate for the requested database user.
 */
import type { Duplex } from "node:stream";
import { isJumpgateError } from "../../../../api/errors.ts";
import type { DbEngine, DbSessionContext } from "../engine.ts";
import { lookupCancelKey, registerCancelKey } from "./cancel.ts";
import { type StartupPacket, takeStartupPacket } from "./codec.ts";
import { PgServerError, reasonOf, SQLSTATE, sqlStateOf, unsupported, upstreamFailure } from "./errors.ts";
import * as msg from "./messages.ts";
import { Pump } from "./pump.ts";
import { relay } from "./session.ts";
import { type Credentials, connectUpstream, sendCancel, type Upstream } from "./upstream.ts";

/** How long a client has to send its startup packet, and the server to log us in. */
export const STARTUP_TIMEOUT_MS = 30_000;
export const UPSTREAM_TIMEOUT_MS = 20_000;

/** Startup parameters never passed to the server (ours to set, or unsupported). */
const NOT_FORWARDED = new Set(["user", "database", "replication"]);

type Startup = { params: Map<string, string>; minor: number; rest: Buffer };

function noDelay(s: Duplex): void {
  const sock = s as Duplex & { setNoDelay?: (v: boolean) => unknown };
  if (typeof sock.setNoDelay === "function") sock.setNoDelay(true);
}

/** Reads startup packets until the StartupMessage or a CancelRequest. */
async function readStartup(client: Duplex): Promise<{ startup: Startup } | { cancel: { pid: number; secret: Buffer } }> {
  const pump = new Pump(
    client,
    STARTUP_TIMEOUT_MS,
    () => upstreamFailure("the client closed the connection during startup"),
    () => upstreamFailure("the client did not send a startup packet in time"),
  );
  let buf: Buffer = Buffer.alloc(0);
  let negotiations = 0;
  try {
    for (;;) {
      const taken: { packet: StartupPacket; rest: Buffer } | undefined = takeStartupPacket(buf);
      if (taken === undefined) {
        buf = Buffer.concat([buf, await pump.chunk()]);
        continue;
      }
      buf = taken.rest;
      const p = taken.packet;
      if (p.kind === "cancel") return { cancel: { pid: p.pid, secret: p.secret } };
      if (p.kind === "startup")
        return {
          startup: {
            params: p.params,
            minor: p.minor,
            rest: Buffer.concat([buf, pump.detach()]),
          },
        };
      // SSL or GSS encryption: the connection is already encrypted up to the proxy.
      if (++negotiations > 2) throw unsupported("too many encryption requests");
      if (buf.length > 0) throw unsupported("unexpected bytes after an encryption request");
      client.write("N");
    }
  } finally {
    pump.detach();
  }
}

function fatal(client: Duplex, code: string, message: string): void {
  if (client.writable) client.end(msg.errorResponse({ severity: "FATAL", code, message }));
}

/** Waits until the client's stream is closed (or a short while), so `handle` resolves after teardown. */
function closed(client: Duplex): Promise<void> {
  return new Promise((resolve) => {
    if (client.destroyed) return resolve();
    const t = setTimeout(() => {
      client.destroy();
      resolve();
    }, 2000);
    client.once("close", () => {
      clearTimeout(t);
      resolve();
    });
    client.resume();
  });
}

function isFalse(v: string): boolean {
  return ["false", "off", "no", "0"].includes(v.toLowerCase());
}

async function handle(client: Duplex, ctx: DbSessionContext): Promise<void> {
  noDelay(client);
  client.on("error", (e) => ctx.log.debug({ err: e.message }, "postgres client stream error"));
  let first: Awaited<ReturnType<typeof readStartup>>;
  try {
    first = await readStartup(client);
  } catch (e) {
    ctx.log.debug({ err: reasonOf(e) }, "postgres startup failed");
    fatal(client, sqlStateOf(e), reasonOf(e));
    return closed(client);
  }
  if ("cancel" in first) {
    const target = lookupCancelKey(first.cancel.pid, first.cancel.secret, ctx.identity.user, ctx.database.name);
    if (target !== undefined) await target.cancel(target.key).catch((e) => ctx.log.debug({ err: reasonOf(e) }, "cancel failed"));
    else ctx.log.debug("cancel request for an unknown session");
    client.end();
    return closed(client);
  }
  await session(client, ctx, first.startup);
}

async function session(client: Duplex, ctx: DbSessionContext, startup: Startup): Promise<void> {
  const dbUser = startup.params.get("user") ?? "";
  const dbName = startup.params.get("database") || dbUser;
  const base = {
    user: ctx.identity.user,
    sid: ctx.sessionId,
    db_service: ctx.database.name,
    db_protocol: "postgres",
    db_uri: ctx.database.uri,
    db_user: dbUser,
    db_name: dbName,
    server_hostname: ctx.serviceName,
    addr_remote: ctx.clientAddr,
  };
  const refuse = (code: string, message: string, raw?: Buffer) => {
    ctx.emit({
      event: "db.session.start",
      ...base,
      success: false,
      error: message,
    });
    if (raw !== undefined && client.writable) client.end(raw);
    else fatal(client, code, message);
    return closed(client);
  };

  const replication = startup.params.get("replication");
  if (replication !== undefined && !isFalse(replication)) {
    return refuse(SQLSTATE.featureNotSupported, "replication connections are not supported through Jumpgate");
  }
  // Protocol 3.x with x > 0 or protocol options: we speak 3.0 and know none of them.
  const options = [...startup.params.keys()].filter((k) => k.startsWith("_pq_."));
  if (startup.minor > 0 || options.length > 0) client.write(msg.negotiateProtocolVersion(0, options));

  try {
    await ctx.authorize(dbUser, dbName);
  } catch (e) {
    return refuse(isJumpgateError(e, "access-denied") ? SQLSTATE.invalidAuthorization : sqlStateOf(e), reasonOf(e));
  }
  const auth = ctx.database.auth;
  if (auth.kind === "password" && auth.user !== dbUser) {
    return refuse(
      SQLSTATE.invalidAuthorization,
      `database "${ctx.database.name}" accepts only the database user "${auth.user}" (the service logs in with its password); connect with --db-user=${auth.user}`,
    );
  }

  const params = new Map([
    ["user", dbUser],
    ["database", dbName],
  ]);
  for (const [k, v] of startup.params) if (!NOT_FORWARDED.has(k) && !k.startsWith("_pq_.")) params.set(k, v);
  let creds: Credentials | undefined;
  let upstream: Upstream;
  try {
    if (auth.kind === "cert") creds = await ctx.serverCredentials(dbUser);
    upstream = await connectUpstream({
      target: ctx.database,
      params,
      ...(creds ? { credentials: creds } : {}),
      timeoutMs: UPSTREAM_TIMEOUT_MS,
    });
  } catch (e) {
    if (e instanceof PgServerError) return refuse(SQLSTATE.cannotConnect, e.message, msg.errorResponseFrom(e.fields));
    ctx.log.info(
      {
        err: reasonOf(e),
        detail: isJumpgateError(e) ? e.detail : undefined,
        db: ctx.database.name,
      },
      "cannot connect to the database server",
    );
    return refuse(sqlStateOf(e), `cannot connect to database "${ctx.database.name}": ${reasonOf(e)}`);
  }

  const target = ctx.database;
  const cancelKey = registerCancelKey({
    user: ctx.identity.user,
    database: target.name,
    key: upstream.key ?? { pid: 0, secret: Buffer.alloc(4) },
    cancel: (key) => sendCancel(target, key, creds, UPSTREAM_TIMEOUT_MS),
  });
  try {
    const hello = [msg.authenticationOk(), ...upstream.startup];
    if (upstream.key !== undefined) hello.push(msg.backendKeyData(cancelKey.key.pid, cancelKey.key.secret));
    hello.push(msg.readyForQuery(upstream.status));
    client.write(Buffer.concat(hello));
    ctx.emit({ event: "db.session.start", ...base, success: true });
    ctx.log.debug({ sid: ctx.sessionId, db: target.name, db_user: dbUser, db_name: dbName }, "postgres session started");
    const end = await relay({
      client,
      upstream: upstream.socket,
      clientRest: startup.rest,
      upstreamRest: upstream.rest,
      audit: ctx.database.auditQueries ? (rec) => ctx.emit({ event: "db.session.query", ...base, ...rec }) : undefined,
    });
    if (end.reason === "upstream-lost" || end.reason === "protocol-error") {
      ctx.log.info({ sid: ctx.sessionId, reason: end.reason, err: end.error }, "postgres session ended abnormally");
    }
    ctx.emit({
      event: "db.session.end",
      ...base,
      reason: end.reason,
      ...("error" in end ? { error: end.error } : {}),
    });
  } finally {
    cancelKey.release();
  }
}

export const postgresEngine: DbEngine = {
  protocol: "postgres",
  async handle(client: Duplex, ctx: DbSessionContext): Promise<void> {
    try {
      await handle(client, ctx);
    } catch (e) {
      // Nothing above should throw; never let a session take the service down.
      ctx.log.error({ err: e instanceof Error ? e.stack : String(e) }, "postgres engine failure");
      fatal(client, SQLSTATE.internal, "internal error in the database service");
      client.destroy();
    }
  },
};
