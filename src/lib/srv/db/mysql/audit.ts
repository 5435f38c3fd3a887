/**
 * Follows a relayed session, pure: which command each server response
 * belongs to (so the COM_STMT_PREPARE_OK carrying a statement id is matched
 * to the right prepared text even when a client pipelines), when the client
 * is sending LOCAL INFILE data rather than commands, and what to audit:
 * COM_QUERY text, COM_STMT_EXECUTE with the prepared text and decoded
 * parameters, COM_INIT_DB as `USE`.
 *
 * Responses are read from the first bytes of each server packet only
 * (header, column count, OK/EOF status flags), never from row contents.
 */
import type { MysqlPacket } from "./codec.ts";
import * as cmd from "./commands.ts";
import { COM } from "./commands.ts";
import { okOrEofStatus, STATUS } from "./messages.ts";
import { Reader } from "./wire.ts";

/** Payload bytes kept of an audited client packet; longer ones are audited truncated. */
export const AUDIT_KEEP = 1 << 20;
/** Payload bytes kept of each server packet: enough for any header the tracker reads. */
export const SERVER_KEEP = 64;
/** Longest single parameter value put in an event. */
export const PARAM_MAX = 4096;
/** Prepared statements remembered at most (oldest forgotten first). */
const TRACK_MAX = 10_000;

export interface QueryRecord {
  db_query: string;
  db_query_parameters?: (string | null)[];
  /** The server's id of the prepared statement, for COM_STMT_EXECUTE. */
  db_statement_id?: number;
  /** Set when the packet was larger than what audit keeps, or its parameters could not be read. */
  truncated?: boolean;
}

type Response =
  | { kind: "generic" }
  | { kind: "prepare"; query: string; truncated: boolean }
  /** Rows (COM_STMT_FETCH) or column definitions (COM_FIELD_LIST) up to a terminator. */
  | { kind: "until-eof" }
  /** One packet of any content (COM_STATISTICS). */
  | { kind: "single" };

type Phase =
  | { p: "first" }
  | { p: "infile" }
  /** Column (or parameter) definitions to skip, then an EOF unless DEPRECATE_EOF, then `next`. */
  | {
      p: "defs";
      left: number;
      eof: boolean;
      next: "rows" | "done" | { params: number; columns: number };
    }
  | { p: "eof"; next: "rows" | "done" | { params: number; columns: number } }
  | { p: "rows" };

interface Statement {
  query: string;
  truncated: boolean;
  params: number;
  types: cmd.ParamType[] | undefined;
  longData: Set<number>;
}

const quoteIdent = (s: string) => `\`${s.replaceAll("`", "``")}\``;
const clip = (v: string | null | undefined): string | null =>
  v === undefined ? "(sent as long data)" : v !== null && v.length > PARAM_MAX ? `${v.slice(0, PARAM_MAX)}… (${v.length} characters)` : v;

/** Recognizes `USE db` sent as a query, so it gets the same RBAC check as COM_INIT_DB. */
export function useStatementTarget(query: string): string | undefined {
  const m = /^\s*use\s+(?:`((?:[^`]|``)+)`|([^\s`;]+))\s*;?\s*$/i.exec(query);
  if (m === null) return undefined;
  return m[1] !== undefined ? m[1].replaceAll("``", "`") : m[2];
}

export class SessionTracker {
  private readonly pending: Response[] = [];
  private phase: Phase = { p: "first" };
  private readonly statements = new Map<number, Statement>();
  private lastPrepared: number | undefined;

  constructor(private readonly deprecateEof: boolean) {}

  /** True while the client sends LOCAL INFILE data packets instead of commands. */
  get clientSendsData(): boolean {
    return this.phase.p === "infile" && this.pending.length > 0;
  }

  /** No response outstanding. */
  get idle(): boolean {
    return this.pending.length === 0;
  }

  /** A LOCAL INFILE data packet from the client; the empty one ends the file. */
  onClientData(p: MysqlPacket): void {
    if (p.length === 0 && this.phase.p === "infile") this.phase = { p: "first" };
  }

  /**
   * A command packet the relay forwards to the server. Returns the record to
   * audit, if any. Never throws: an unreadable packet is audited truncated.
   */
  onCommand(p: MysqlPacket): QueryRecord | undefined {
    const code = p.payload[0];
    switch (code) {
      case COM.QUERY:
        this.expect({ kind: "generic" });
        return {
          db_query: cmd.commandText(p.payload),
          ...(p.truncated ? { truncated: true } : {}),
        };
      case COM.INIT_DB:
        this.expect({ kind: "generic" });
        return { db_query: `USE ${quoteIdent(cmd.commandText(p.payload))}` };
      case COM.CREATE_DB:
      case COM.DROP_DB:
        this.expect({ kind: "generic" });
        return {
          db_query: `${code === COM.CREATE_DB ? "CREATE" : "DROP"} DATABASE ${quoteIdent(cmd.commandText(p.payload))}`,
        };
      case COM.PROCESS_KILL:
        this.expect({ kind: "generic" });
        return {
          db_query: p.payload.length >= 5 ? `KILL ${p.payload.readUInt32LE(1)}` : "KILL",
        };
      case COM.STMT_PREPARE:
        this.expect({
          kind: "prepare",
          query: cmd.commandText(p.payload),
          truncated: p.truncated,
        });
        return undefined;
      case COM.STMT_EXECUTE:
        this.expect({ kind: "generic" });
        return this.execute(p);
      case COM.STMT_SEND_LONG_DATA:
        this.safely(() => {
          const l = cmd.decodeLongData(p.payload);
          this.statement(l.statementId)?.longData.add(l.param);
        });
        return undefined;
      case COM.STMT_CLOSE:
        this.safely(() => this.statements.delete(cmd.statementId(p.payload)));
        return undefined;
      case COM.STMT_RESET:
        this.expect({ kind: "generic" });
        this.safely(() => this.statement(cmd.statementId(p.payload))?.longData.clear());
        return undefined;
      case COM.STMT_FETCH:
      case COM.FIELD_LIST:
        this.expect({ kind: "until-eof" });
        return undefined;
      case COM.STATISTICS:
        this.expect({ kind: "single" });
        return undefined;
      case COM.QUIT:
        return undefined;
      default:
        this.expect({ kind: "generic" });
        return undefined;
    }
  }

  /** A server packet (its first bytes), in order. */
  onServerPacket(p: MysqlPacket): void {
    const head = this.pending[0];
    if (head === undefined) return;
    const b = p.payload;
    const first = b[0];
    try {
      switch (this.phase.p) {
        case "infile":
          // The server answers only after the client's empty packet; anything sooner ends the exchange.
          this.phase = { p: "first" };
          {
            this.onServerPacket(p);
            return;
          }
        case "first": {
          this.firstPacket(head, p);
          return;
        }
        case "defs":
          if (first === 0xff) {
            this.done();
            return;
          }
          if (--this.phase.left > 0) return;
          this.phase = this.phase.eof ? { p: "eof", next: this.phase.next } : this.after(this.phase.next);
          return;
        case "eof": {
          if (first === 0xff) {
            this.done();
            return;
          }
          const status = first === 0xfe ? okOrEofStatus(b) : 0;
          const next = this.phase.next;
          // An execute that opened a cursor sends no rows until COM_STMT_FETCH.
          if (next === "rows" && status & STATUS.CURSOR_EXISTS) {
            this.done();
            return;
          }
          this.phase = this.after(next);
          return;
        }
        case "rows":
          if (first === 0xff) {
            this.done();
            return;
          }
          if (first === 0xfe && p.length < 0xffffff) {
            const status = okOrEofStatus(b);
            if (head.kind === "generic" && status & STATUS.MORE_RESULTS_EXISTS) this.phase = { p: "first" };
            else this.done();
          }
          return;
      }
    } catch {
      // An unreadable header: give up on this response rather than on the session.
      this.done();
    }
  }

  private firstPacket(head: Response, p: MysqlPacket): void {
    const b = p.payload;
    const first = b[0];
    if (head.kind === "single") {
      this.done();
      return;
    }
    if (head.kind === "until-eof") {
      this.phase = { p: "rows" };
      this.onServerPacket(p);
      return;
    }
    if (first === 0xff) {
      this.done();
      return;
    }
    if (head.kind === "prepare") {
      const ok = cmd.decodePrepareOk(b);
      this.remember(ok.statementId, {
        query: head.query,
        truncated: head.truncated,
        params: ok.params,
        types: undefined,
        longData: new Set(),
      });
      this.lastPrepared = ok.statementId;
      this.phase = this.after({ params: ok.params, columns: ok.columns });
      return;
    }
    if (first === 0x00) {
      if (okOrEofStatus(b) & STATUS.MORE_RESULTS_EXISTS) return;
      this.done();
      return;
    }
    if (first === 0xfe && p.length < 9) {
      this.done();
      return;
    }
    if (first === 0xfb) {
      this.phase = { p: "infile" };
      return;
    }
    const columns = new Reader(b, "column count").lenenc();
    this.phase = columns > 0 ? { p: "defs", left: columns, eof: !this.deprecateEof, next: "rows" } : { p: "rows" };
  }

  /** The phase after a block of definitions; `next` may still have prepared-statement blocks to skip. */
  private after(next: "rows" | "done" | { params: number; columns: number }): Phase {
    if (next === "rows") return { p: "rows" };
    if (next !== "done") {
      if (next.params > 0)
        return {
          p: "defs",
          left: next.params,
          eof: !this.deprecateEof,
          next: { params: 0, columns: next.columns },
        };
      if (next.columns > 0)
        return {
          p: "defs",
          left: next.columns,
          eof: !this.deprecateEof,
          next: "done",
        };
    }
    this.pending.shift();
    return { p: "first" };
  }

  private done(): void {
    this.pending.shift();
    this.phase = { p: "first" };
  }

  private expect(r: Response): void {
    this.pending.push(r);
  }

  private safely(f: () => void): void {
    try {
      f();
    } catch {
      // Unreadable: the server will answer it with an error; nothing to track.
    }
  }

  private statement(id: number): Statement | undefined {
    return this.statements.get(id === cmd.LAST_STATEMENT_ID ? (this.lastPrepared ?? id) : id);
  }

  private remember(id: number, s: Statement): void {
    this.statements.delete(id);
    this.statements.set(id, s);
    if (this.statements.size > TRACK_MAX) {
      const oldest = this.statements.keys().next();
      if (!oldest.done) this.statements.delete(oldest.value);
    }
  }

  private execute(p: MysqlPacket): QueryRecord {
    if (p.payload.length < 5) return { db_query: "", truncated: true };
    const id = p.payload.readUInt32LE(1);
    const s = this.statement(id);
    const statementId = id === cmd.LAST_STATEMENT_ID ? (this.lastPrepared ?? id) : id;
    if (s === undefined)
      return {
        db_query: `EXECUTE (statement ${statementId}, prepared before tracking)`,
        db_statement_id: statementId,
      };
    const rec: QueryRecord = {
      db_query: s.query,
      db_statement_id: statementId,
    };
    if (s.truncated) rec.truncated = true;
    try {
      const e = cmd.decodeStmtExecute(p.payload, s.params, s.types, s.longData);
      if (e.types !== undefined) s.types = e.types;
      if (e.params.length > 0) rec.db_query_parameters = e.params.map(clip);
    } catch {
      rec.truncated = true;
    }
    s.longData.clear();
    return rec;
  }
}
