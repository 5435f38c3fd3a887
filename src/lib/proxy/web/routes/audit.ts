/** The audit log: one page of events, and the filtered range exported as JSON lines. */
import { once } from "node:events";
import type { ServerResponse } from "node:http";
import type { JsonObject } from "@bufbuild/protobuf";
import type { AuthClient } from "../../../../api/authclient.ts";
import { badParameter } from "../../../../api/errors.ts";
import type { AuthedRequest, AuthedRoute } from "../context.ts";
import { sendJson } from "../http.ts";
import { csv, intParam, query, route, timeRange } from "./common.ts";

const DAY_MS = 24 * 3600_000;
/** Events per SearchEvents call while exporting: bounded memory whatever the range. */
export const EXPORT_PAGE = 500;
const TYPE_NAME = /^[a-z][a-z0-9_.]{0,63}$/;

export interface AuditFilter {
  from: Date;
  to: Date;
  types: string[];
  user: string;
  order: "asc" | "desc";
}

export function auditFilter(r: AuthedRequest, defaultOrder: "asc" | "desc"): AuditFilter {
  const { from, to } = timeRange(r, DAY_MS);
  const types = csv(query(r, "type"));
  for (const t of types) if (!TYPE_NAME.test(t)) throw badParameter(`"${t}" is not an event type (such as session.start)`);
  const order = query(r, "order") || defaultOrder;
  if (order !== "asc" && order !== "desc") throw badParameter(`"order" must be asc or desc, got "${order}"`);
  return { from, to, types, user: query(r, "user"), order };
}

function search(client: AuthClient, f: AuditFilter, limit: number, startKey: string) {
  return client.searchEvents({
    from: f.from.toISOString(),
    to: f.to.toISOString(),
    types: f.types,
    user: f.user,
    limit,
    startKey,
    order: f.order,
  });
}

/** `20260601T120000Z`: a time that is also a portable file name part. */
const fileTime = (d: Date) =>
  d
    .toISOString()
    .replace(/\.\d{3}Z$/, "Z")
    .replace(/[-:]/g, "");

/** Writes one chunk, waiting for the socket to drain so a slow reader holds back the paging. */
async function write(res: ServerResponse, text: string): Promise<boolean> {
  if (res.destroyed) return false;
  if (!res.write(text)) {
    await Promise.race([once(res, "drain"), once(res, "close")]);
  }
  return !res.destroyed;
}

const lines = (events: readonly JsonObject[]) => events.map((e) => `${JSON.stringify(e)}\n`).join("");

export function auditRoutes(): AuthedRoute[] {
  return [
    route("GET", /^\/webapi\/audit\/events$/, async (_req, res, r) => {
      const f = auditFilter(r, "desc");
      const limit = intParam(r, "limit", 1, 1000, 50);
      // Auth checks the `event` list rule; the page and its key are Auth's.
      const page = await search(r.user.client, f, limit, query(r, "start_key"));
      sendJson(res, 200, { items: page.events, next_key: page.nextKey });
    }),

    route("GET", /^\/webapi\/audit\/export$/, async (_req, res, r) => {
      const f = auditFilter(r, "asc");
      // The first page is fetched before any byte is sent, so a refusal is still a JSON error.
      let page = await search(r.user.client, f, EXPORT_PAGE, "");
      res.writeHead(200, {
        "content-type": "application/x-ndjson; charset=utf-8",
        "content-disposition": `attachment; filename="audit-${fileTime(f.from)}-${fileTime(f.to)}.jsonl"`,
        "cache-control": "no-store",
        "x-content-type-options": "nosniff",
      });
      for (;;) {
        if (!(await write(res, lines(page.events)))) return; // the browser went away
        if (page.nextKey === "" || page.events.length === 0) break;
        // A failure past this point cannot become an error body: the session layer cuts the connection,
        // and the download ends short instead of looking complete.
        page = await search(r.user.client, f, EXPORT_PAGE, page.nextKey);
      }
      res.end();
    }),
  ];
}
