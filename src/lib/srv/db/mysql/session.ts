/**
 * One relayed session after login: server bytes stream to the client as
 * they come (their packet headers are read to follow responses); client
 * packets stream to the server, small ones whole so a `USE` or COM_INIT_DB
 * can be checked against the roles before it is passed on, and commands
 * that would bypass the login (COM_CHANGE_USER, replication) are refused.
 * Backpressure is kept both ways; nothing buffers a result set.
 */
import type { Duplex } from "node:stream";
import { AUDIT_KEEP, type QueryRecord, SERVER_KEEP, type SessionTracker, useStatementTarget } from "./audit.ts";
import { ClientFramer, type ClientUnit, type MysqlPacket, PacketScanner, packet } from "./codec.ts";
import { COM, commandText } from "./commands.ts";
import { ER, type ErrCode, reasonOf } from "./errors.ts";
import { encodeErr } from "./messages.ts";

/** Client packets below this size are read whole before being passed on. */
export const SMALL_PACKET = 64 * 1024;
/** The largest packet either side may send (MySQL's own ceiling for max_allowed_packet). */
export const MAX_PACKET = 1 << 30;

/** Queries at least this long are never taken for a `USE db` statement. */
const USE_MAX = 512;

/** Commands refused outright: they would change the logged-in user or turn the session into replication. */
const REFUSED: ReadonlyMap<number, string> = new Map([
  [COM.CHANGE_USER, "COM_CHANGE_USER is not supported through Jumpgate; reconnect as the other database user"],
  [COM.BINLOG_DUMP, "replication is not supported through Jumpgate"],
  [COM.BINLOG_DUMP_GTID, "replication is not supported through Jumpgate"],
  [COM.REGISTER_SLAVE, "replication is not supported through Jumpgate"],
  [COM.TABLE_DUMP, "COM_TABLE_DUMP is not supported through Jumpgate"],
  [COM.CONNECT_OUT, "COM_CONNECT_OUT is not supported through Jumpgate"],
  [COM.MULTI, "COM_MULTI is not supported through Jumpgate"],
  [COM.STMT_BULK_EXECUTE, "bulk execution is not supported through Jumpgate"],
]);

export type EndReason = "client-quit" | "client-closed" | "upstream-lost" | "protocol-error";

export interface RelayOptions {
  client: Duplex;
  upstream: Duplex;
  clientRest: Buffer;
  upstreamRest: Buffer;
  tracker: SessionTracker;
  /** Audit sink for queries; undefined when query audit is off for the database. */
  audit: ((rec: QueryRecord & { success?: boolean; error?: string }) => void) | undefined;
  /** RBAC for a database the client switches to; throws an access-denied error with the message to show. */
  authorizeDatabase(name: string): Promise<void>;
}

export function relay(o: RelayOptions): Promise<{ reason: EndReason; error?: string }> {
  const { client, upstream, tracker } = o;
  const framer = new ClientFramer({
    smallBytes: SMALL_PACKET,
    keepBytes: AUDIT_KEEP,
    maxPacketBytes: MAX_PACKET,
  });
  const server = new PacketScanner({
    maxPacketBytes: Number.POSITIVE_INFINITY,
    keep: () => SERVER_KEEP,
  });
  /** Sequence id of the last packet seen either way, for packets we write ourselves. */
  let lastSeq = 0;
  let reason: EndReason | undefined;
  let error: string | undefined;
  let quitting = false;
  let aborted = false;
  /** The large client packet being streamed: a command or LOCAL INFILE data. */
  let streaming: "command" | "data" | undefined;
  const units: ClientUnit[] = [];
  let waiting = false;
  let idleWaiters: (() => void)[] = [];
  let clientEnded = false;
  let clientClosed = false;
  let upstreamClosed = false;

  return new Promise((resolve) => {
    const wakeIdle = () => {
      const ws = idleWaiters;
      idleWaiters = [];
      for (const w of ws) w();
    };
    const finish = () => {
      if (!clientClosed || !upstreamClosed) return;
      wakeIdle();
      const r = reason ?? "client-closed";
      resolve(error === undefined ? { reason: r } : { reason: r, error });
    };
    const end = (r: EndReason, e?: string) => {
      reason ??= r;
      if (e !== undefined) error ??= e;
    };
    const toClient = (seq: number, code: ErrCode, message: string) => client.write(packet(seq & 0xff, encodeErr(code.errno, code.sqlState, message)));
    const abort = (r: EndReason, code: ErrCode, message: string) => {
      aborted = true;
      end(r, message);
      units.length = 0;
      toClient(lastSeq + 1, code, message);
      client.end();
      upstream.end();
    };

    // ---- server → client ----
    const onServer = (chunk: Buffer) => {
      try {
        for (const p of server.push(chunk)) {
          lastSeq = p.lastSeq;
          tracker.onServerPacket(p);
        }
      } catch (e) {
        end("protocol-error", reasonOf(e));
      }
      if (!client.write(chunk)) upstream.pause();
      if (tracker.idle && idleWaiters.length > 0) wakeIdle();
    };
    const waitIdle = () => (tracker.idle || upstreamClosed ? Promise.resolve() : new Promise<void>((r) => idleWaiters.push(r)));

    // ---- client → server ----
    const forward = (b: Buffer) => {
      if (!upstream.write(b)) client.pause();
    };
    const audit = (rec: QueryRecord | undefined) => {
      if (rec !== undefined) o.audit?.(rec);
    };
    /** Handles one whole client packet; returns a promise when it must wait (a held command). */
    const command = (p: MysqlPacket, raw: Buffer): Promise<void> | undefined => {
      lastSeq = p.lastSeq;
      if (tracker.clientSendsData) {
        tracker.onClientData(p);
        forward(raw);
        return undefined;
      }
      const code = p.payload[0];
      const refused = code === undefined ? undefined : REFUSED.get(code);
      if (refused !== undefined) return waitIdle().then(() => void toClient(p.lastSeq + 1, ER.notSupported, refused));
      // A USE statement is short (names are at most 64 characters); longer queries are not decoded here.
      const use =
        code === COM.INIT_DB ? commandText(p.payload) : code === COM.QUERY && p.length < USE_MAX ? useStatementTarget(commandText(p.payload)) : undefined;
      if (use === undefined) {
        if (code === COM.QUIT) quitting = true;
        audit(tracker.onCommand(p));
        forward(raw);
        return undefined;
      }
      return waitIdle()
        .then(() => o.authorizeDatabase(use))
        .then(
          () => {
            audit(tracker.onCommand(p));
            forward(raw);
          },
          (e: unknown) => {
            const text = code === COM.INIT_DB ? `USE \`${use.replaceAll("`", "``")}\`` : commandText(p.payload);
            o.audit?.({ db_query: text, success: false, error: reasonOf(e) });
            toClient(p.lastSeq + 1, ER.dbAccessDenied, reasonOf(e));
          },
        );
    };
    const unit = (u: ClientUnit): Promise<void> | undefined => {
      if (u.kind === "packet") return command(u.packet, u.raw);
      if (u.kind === "start") {
        lastSeq = u.seq;
        if (tracker.clientSendsData) streaming = "data";
        else if (REFUSED.has(u.first) || u.first === COM.INIT_DB) abort("protocol-error", ER.packetTooLarge, "session command too large");
        else streaming = "command";
        return undefined;
      }
      forward(u.raw);
      if (u.packet !== undefined) {
        lastSeq = u.packet.lastSeq;
        if (streaming === "data") tracker.onClientData(u.packet);
        else audit(tracker.onCommand(u.packet));
        streaming = undefined;
      }
      return undefined;
    };
    /** Runs client units in order, synchronously until one has to wait. */
    const pump = () => {
      if (waiting) return;
      upstream.cork();
      try {
        while (units.length > 0 && !aborted) {
          const u = units.shift();
          if (u === undefined) break;
          const r = unit(u);
          if (r !== undefined) {
            waiting = true;
            client.pause();
            void r.then(() => {
              waiting = false;
              if (!upstream.writableNeedDrain) client.resume();
              pump();
            });
            return;
          }
        }
      } finally {
        upstream.uncork();
      }
      if (clientEnded && units.length === 0) upstream.end();
    };
    const onClient = (chunk: Buffer) => {
      if (aborted) return;
      try {
        units.push(...framer.push(chunk));
      } catch (e) {
        abort("protocol-error", ER.packetTooLarge, reasonOf(e));
        return;
      }
      pump();
    };

    client.on("data", onClient);
    upstream.on("data", onServer);
    client.on("drain", () => upstream.resume());
    upstream.on("drain", () => {
      if (!waiting) client.resume();
    });
    client.on("error", () => undefined);
    upstream.on("error", (e: Error) => {
      if (!quitting) end("upstream-lost", e.message);
    });
    client.on("end", () => {
      clientEnded = true;
      end(quitting ? "client-quit" : "client-closed");
      if (!waiting && units.length === 0) upstream.end();
    });
    client.on("close", () => {
      clientClosed = true;
      end(quitting ? "client-quit" : "client-closed");
      if (!upstreamClosed) setTimeout(() => upstream.destroy(), 5000).unref();
      if (!clientEnded) upstream.end();
      finish();
    });
    upstream.on("close", () => {
      upstreamClosed = true;
      if (!clientClosed) {
        const why = error ?? "the server closed the connection";
        // The client learns it from the closed connection: `mysql` prints "ERROR 2013 (HY000): Lost
        // connection to server during query". An ERR packet with 2013 (or 2006) would not do:
        // libmariadb takes those numbers from a server for a malformed packet (ERROR 2027).
        if (!quitting && !aborted) end("upstream-lost", why);
        client.end();
        setTimeout(() => client.destroy(), 5000).unref();
      }
      wakeIdle();
      finish();
    });

    if (o.upstreamRest.length > 0) onServer(o.upstreamRest);
    if (o.clientRest.length > 0) onClient(o.clientRest);
    upstream.resume();
    client.resume();
  });
}
