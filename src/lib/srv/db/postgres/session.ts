/**
 * One user's session after login: bytes flow both ways as they come, with
 * backpressure, and are never re-encoded. Client messages are parsed on the
 * way through for audit (only the bodies audit needs are kept); server bytes
 * are only framed, so that when the server goes away the client is told with
 * an ErrorResponse between two messages instead of a bare reset.
 */

import type net from "node:net";
import type { Duplex } from "node:stream";
import { finished } from "node:stream";
import type { QueryRecord } from "./audit.ts";
import { auditKeep, QueryAuditor } from "./audit.ts";
import { BackendFramer, FrontendReader } from "./codec.ts";
import { reasonOf, SQLSTATE, sqlStateOf } from "./errors.ts";
import { errorResponse, terminate } from "./messages.ts";

export type RelayEnd =
  /** The client said goodbye or went away. */
  | { reason: "client-closed" }
  /** The server closed after an error of its own (the client has it). */
  | { reason: "server-closed" }
  /** The server connection broke; the client was sent 08006. */
  | { reason: "upstream-lost"; error: string }
  /** The client sent something malformed; it was sent 08P01. */
  | { reason: "protocol-error"; error: string };

export interface RelayOptions {
  client: Duplex;
  upstream: net.Socket;
  /** Client bytes read during login that belong to the session. */
  clientRest: Buffer;
  /** Server bytes read after its ReadyForQuery. */
  upstreamRest: Buffer;
  /** Called for each audited query; undefined turns query audit off. */
  audit: ((rec: QueryRecord) => void) | undefined;
  /** How long to wait for both sides to close once the session is over. */
  graceMs?: number;
}

/** Relays until both sides are closed; never throws. */
export function relay(o: RelayOptions): Promise<RelayEnd> {
  const { client, upstream, audit } = o;
  const reader = new FrontendReader({
    typed: true,
    keep: audit === undefined ? () => 0 : auditKeep,
  });
  const auditor = new QueryAuditor();
  const framer = new BackendFramer();
  let terminated = false;
  let end: RelayEnd | undefined;

  return new Promise<RelayEnd>((resolve) => {
    let clientDone = false;
    let upstreamDone = false;
    let grace: NodeJS.Timeout | undefined;
    const settle = () => {
      if (end !== undefined && clientDone && upstreamDone) {
        clearTimeout(grace);
        resolve(end);
      }
    };
    finished(client, () => {
      clientDone = true;
      onClientGone();
      settle();
    });
    upstream.once("close", () => {
      upstreamDone = true;
      onUpstreamGone("the server closed the connection");
      // The session is over on both sides: finish the client's stream too.
      if (!clientDone) client.end();
      settle();
    });
    const conclude = (e: RelayEnd) => {
      end ??= e;
      grace ??= setTimeout(() => {
        client.destroy();
        upstream.destroy();
        clientDone = upstreamDone = true;
        settle();
      }, o.graceMs ?? 5000);
      grace.unref?.();
      settle();
    };

    const onClientGone = () => {
      if (end !== undefined) return;
      // A client that vanished mid-session: end the server session politely when we can.
      if (!terminated && reader.atBoundary() && upstream.writable) upstream.write(terminate());
      upstream.end();
      conclude({ reason: "client-closed" });
    };
    const onUpstreamGone = (why: string) => {
      if (end !== undefined) return;
      if (terminated || (framer.lastType === "E" && framer.atBoundary())) {
        client.end();
        conclude(terminated ? { reason: "client-closed" } : { reason: "server-closed" });
        return;
      }
      const error = `connection to the database was lost: ${why}`;
      if (framer.canInterject() && client.writable) {
        client.end(
          errorResponse({
            severity: "FATAL",
            code: SQLSTATE.connectionFailure,
            message: error,
          }),
        );
      } else client.destroy();
      upstream.destroy();
      conclude({ reason: "upstream-lost", error });
    };

    const protocolError = (e: unknown) => {
      if (end !== undefined) return;
      const message = reasonOf(e);
      if (client.writable) client.end(errorResponse({ severity: "FATAL", code: sqlStateOf(e), message }));
      upstream.destroy();
      conclude({ reason: "protocol-error", error: message });
    };

    const fromClient = (chunk: Buffer) => {
      if (end !== undefined) return;
      try {
        for (const item of reader.feed(chunk)) {
          if (!("message" in item)) continue;
          if (item.message.type === "X") terminated = true;
          if (audit === undefined) continue;
          const rec = auditor.onMessage(item.message);
          if (rec !== undefined) audit(rec);
        }
      } catch (e) {
        protocolError(e);
        return;
      }
      if (!upstream.write(chunk)) {
        client.pause();
        upstream.once("drain", () => client.resume());
      }
    };
    const fromServer = (chunk: Buffer) => {
      if (end !== undefined) return;
      let out: Buffer[];
      try {
        out = framer.push(chunk);
      } catch (e) {
        onUpstreamGone(`invalid data from the server (${e instanceof Error ? e.message : String(e)})`);
        return;
      }
      if (out.length === 0) return;
      let ok = true;
      if (out.length > 1) client.cork();
      for (const b of out) if (b.length > 0) ok = client.write(b) && ok;
      if (out.length > 1) client.uncork();
      if (!ok) {
        upstream.pause();
        client.once("drain", () => upstream.resume());
      }
    };

    client.on("error", () => undefined);
    upstream.on("error", (e) => onUpstreamGone(e.message));
    upstream.on("end", () => onUpstreamGone("the server closed the connection"));
    client.on("end", onClientGone);
    if (o.clientRest.length > 0) fromClient(o.clientRest);
    if (o.upstreamRest.length > 0) fromServer(o.upstreamRest);
    client.on("data", fromClient);
    upstream.on("data", fromServer);
    client.resume();
    upstream.resume();
  });
}
