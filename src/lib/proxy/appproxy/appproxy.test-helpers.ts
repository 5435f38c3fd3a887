/**
 * Shared by this folder's tests: a stand-in Application Service reached by a
 * dial function (it reads the stream header, then serves HTTP or echoes), and
 * Auth's app-session calls with sessions the test sets up. Not part of the
 * public surface.
 */
import http, { type RequestListener } from "node:http";
import { Duplex } from "node:stream";
import { create } from "@bufbuild/protobuf";
import { type AppConnHeader, decodeAppHeader } from "../../../api/appwire.ts";
import type { Clock } from "../../../api/clock.ts";
import { accessDenied, notFound, unauthenticated } from "../../../api/errors.ts";
import { AppSessionSchema } from "../../../api/gen/jumpgate/v1/auth_pb.ts";
import type { AppRoutes, AppServerRoute } from "./dialer.ts";
import type { AppSessionAuth } from "./sessions.ts";

export interface FakeAgent {
  routes: AppRoutes;
  /** Headers the service read, in order. */
  headers: AppConnHeader[];
  /** Which services serve which app; tests change it. */
  serving: Map<string, AppServerRoute[]>;
  streams(): number;
  close(): void;
}

/** Two connected in-memory streams (what one end writes, the other reads); destroying one closes both. */
export function duplexPair(): [Duplex, Duplex] {
  const ends: Duplex[] = [];
  const other = (i: number) => ends[1 - i] as Duplex;
  for (const i of [0, 1]) {
    ends.push(
      new Duplex({
        read() {},
        write(chunk: Buffer, _enc, cb) {
          other(i).push(chunk);
          cb();
        },
        final(cb) {
          other(i).push(null);
          cb();
        },
        destroy(err, cb) {
          other(i).destroy();
          cb(err);
        },
      }),
    );
  }
  return [ends[0] as Duplex, ends[1] as Duplex];
}

/** A service that serves HTTP with `handler` (and `upgrade`), or echoes raw bytes when `handler` is "echo". */
export async function fakeAgent(
  handler: RequestListener | "echo",
  upgrade?: (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void,
): Promise<FakeAgent> {
  const headers: AppConnHeader[] = [];
  const http1 = handler === "echo" ? undefined : http.createServer(handler);
  if (http1 && upgrade) http1.on("upgrade", upgrade);
  let opened = 0;
  const live = new Set<Duplex>();
  const serve = (s: Duplex) => {
    live.add(s);
    s.once("close", () => live.delete(s));
    s.on("error", () => s.destroy());
    let buf = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      const r = decodeAppHeader(buf);
      if (r.kind === "need-more") return;
      s.off("data", onData);
      s.pause();
      headers.push(r.header);
      const rest = buf.subarray(r.consumed);
      if (rest.length > 0) s.unshift(rest);
      if (http1) http1.emit("connection", s);
      else s.pipe(s);
      s.resume();
    };
    s.on("data", onData);
  };
  const serving = new Map<string, AppServerRoute[]>();
  return {
    headers,
    serving,
    streams: () => opened,
    routes: {
      findServers: async (app) => serving.get(app) ?? [],
      dial: async (srv, info) => {
        if (srv.hostId === "down" || info.target !== `app:${srv.app}`) throw new Error("no tunnel");
        opened += 1;
        const [client, service] = duplexPair();
        serve(service);
        return client;
      },
    },
    close: () => {
      for (const s of live) s.destroy();
    },
  };
}

export interface SessionSpec {
  id: string;
  user: string;
  app: string;
  publicAddr: string;
  expiresInMs?: number;
}

/** Auth's app-session calls: launch tokens and cookies the test registers; counts the cookie lookups. */
export function fakeAppAuth(clock: Clock) {
  const tokens = new Map<string, { spec: SessionSpec; cookie: string }>();
  const cookies = new Map<string, SessionSpec>();
  const locked = new Set<string>();
  const calls = { authenticate: 0, delete: 0 };
  const toProto = (s: SessionSpec, extra: { cookie?: string; user?: string } = {}) =>
    create(AppSessionSchema, {
      id: s.id,
      user: s.user,
      appName: s.app,
      publicAddr: s.publicAddr,
      appUri: "http://127.0.0.1:1",
      expires: new Date(clock.now().getTime() + (s.expiresInMs ?? 3600_000)).toISOString(),
      tlsCert: `CERT-${s.id}`,
      ...extra,
    });
  const auth = {
    authenticateAppSession: async (req: { cookie?: string; launchToken?: string }) => {
      if (req.launchToken) {
        const t = tokens.get(req.launchToken);
        tokens.delete(req.launchToken);
        if (!t) throw accessDenied("this app link has expired or was used already");
        cookies.set(t.cookie, t.spec);
        return toProto(t.spec, { cookie: t.cookie, user: "" });
      }
      calls.authenticate += 1;
      const s = cookies.get(req.cookie ?? "");
      if (!s) throw notFound("app session not found");
      if (locked.has(s.user)) throw accessDenied(`user ${s.user} is locked`);
      if ((s.expiresInMs ?? 1) <= 0) throw unauthenticated("app session expired");
      return toProto(s);
    },
    deleteAppSession: async (req: { cookie?: string }) => {
      calls.delete += 1;
      if (!cookies.delete(req.cookie ?? "")) throw notFound("app session not found");
      return {};
    },
  };
  return {
    auth: auth as unknown as AppSessionAuth,
    calls,
    locked,
    /** A launch token that becomes `cookie`. */
    launch: (token: string, cookie: string, spec: SessionSpec) => tokens.set(token, { spec, cookie }),
    /** A live cookie. */
    session: (cookie: string, spec: SessionSpec) => cookies.set(cookie, spec),
  };
}
