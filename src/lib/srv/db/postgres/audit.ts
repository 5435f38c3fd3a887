/**
 * Turns the client's messages into `db.session.query` records: one per
 * simple Query, and one per Execute of the extended protocol with the text
 * the statement was parsed from and the parameters bound to the portal.
 * Pure: it keeps the statements and portals the session created and nothing
 * else.
 */
import type { PgMessage } from "./codec.ts";
import { decodeBind, decodeExecute, decodeParse, decodeQuery, decodeTarget } from "./messages.ts";

/** Body bytes kept for an audited message; longer ones are audited truncated. */
export const AUDIT_KEEP = 1 << 20;
/** Longest single parameter value put in an event. */
export const PARAM_MAX = 4096;
/** Named statements and portals remembered at most (oldest forgotten first). */
const TRACK_MAX = 10_000;

export interface QueryRecord {
  db_query: string;
  db_query_parameters?: (string | null)[];
  /** The prepared statement's name, when it has one. */
  db_statement?: string;
  /** Set when the message was larger than what audit keeps. */
  truncated?: boolean;
}

/** Which message bodies the reader should keep for audit. */
export function auditKeep(type: number): number {
  switch (String.fromCharCode(type)) {
    case "Q":
    case "P":
    case "B":
      return AUDIT_KEEP;
    case "E":
    case "C":
      return 1024;
    default:
      return 0;
  }
}

interface Statement {
  query: string;
  truncated: boolean;
}
interface Portal {
  statement: string;
  query: string;
  params: (string | null)[] | undefined;
  truncated: boolean;
}

function clip(v: string | null): string | null {
  return v !== null && v.length > PARAM_MAX ? `${v.slice(0, PARAM_MAX)}… (${v.length} characters)` : v;
}

/** A C string from a body that may be cut short: the text up to NUL, or all of it. */
function prefixString(body: Buffer, from = 0): { text: string; end: number } {
  const end = body.indexOf(0, from);
  return end < 0 ? { text: body.toString("utf8", from), end: body.length } : { text: body.toString("utf8", from, end), end: end + 1 };
}

function remember<T>(map: Map<string, T>, key: string, value: T): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > TRACK_MAX) {
    const oldest = map.keys().next();
    if (!oldest.done) map.delete(oldest.value);
  }
}

export class QueryAuditor {
  private readonly statements = new Map<string, Statement>();
  private readonly portals = new Map<string, Portal>();

  /** Returns the record to audit for this message, if any. Throws PgProtocolError on a malformed body. */
  onMessage(m: PgMessage): QueryRecord | undefined {
    switch (m.type) {
      case "Q": {
        // A simple query ends the unnamed statement and portal.
        this.statements.delete("");
        this.portals.delete("");
        if (m.truncated) return { db_query: prefixString(m.body).text, truncated: true };
        return { db_query: decodeQuery(m.body) };
      }
      case "P": {
        if (m.truncated) {
          const name = prefixString(m.body);
          remember(this.statements, name.text, {
            query: prefixString(m.body, name.end).text,
            truncated: true,
          });
          return undefined;
        }
        const p = decodeParse(m.body);
        remember(this.statements, p.name, { query: p.query, truncated: false });
        return undefined;
      }
      case "B": {
        if (m.truncated) {
          const portal = prefixString(m.body);
          const statement = prefixString(m.body, portal.end).text;
          const s = this.statements.get(statement);
          remember(this.portals, portal.text, {
            statement,
            query: s?.query ?? "",
            params: undefined,
            truncated: true,
          });
          return undefined;
        }
        const b = decodeBind(m.body);
        const s = this.statements.get(b.statement);
        remember(this.portals, b.portal, {
          statement: b.statement,
          // A statement prepared with SQL PREPARE has no Parse here; name it.
          query: s?.query ?? `EXECUTE ${b.statement}`,
          params: b.params.map(clip),
          truncated: s?.truncated ?? false,
        });
        return undefined;
      }
      case "E": {
        if (m.truncated) return { db_query: "", truncated: true };
        const { portal } = decodeExecute(m.body);
        const p = this.portals.get(portal);
        if (p === undefined) return { db_query: "", truncated: true };
        const rec: QueryRecord = { db_query: p.query };
        if (p.params !== undefined && p.params.length > 0) rec.db_query_parameters = p.params;
        if (p.statement !== "") rec.db_statement = p.statement;
        if (p.truncated) rec.truncated = true;
        return rec;
      }
      case "C": {
        if (m.truncated) return undefined;
        const t = decodeTarget(m.body, "Close");
        (t.kind === "S" ? this.statements : this.portals).delete(t.name);
        return undefined;
      }
      default:
        return undefined;
    }
  }
}
