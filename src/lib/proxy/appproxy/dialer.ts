/**
 * Reaching an Application Service that serves an app: its `app_server`
 * heartbeats say which hosts serve it, their reverse tunnels carry the
 * stream, and the stream starts with the header the service reads first
 * (`api/appwire.ts`). The same for the browser and `jsh proxy app`.
 */
import type { Duplex } from "node:stream";
import type { Logger } from "pino";
import { APP_DIAL_PREFIX, type AppConnHeader, encodeAppHeader } from "../../../api/appwire.ts";
import { connectionProblem, isJumpgateError } from "../../../api/errors.ts";

/** An Application Service that serves an app, from its `app_server` heartbeat. */
export interface AppServerRoute {
  /** The service's host id (its reverse tunnel is keyed by it). */
  hostId: string;
  /** The app's name. */
  app: string;
  /** The app's configured `public_addr`, if any. */
  publicAddr?: string;
}

/** A connection or request refused before it reached an Application Service, for the audit log. */
export interface AppRefusal {
  user?: string;
  app?: string;
  clientAddr: string;
  reason: string;
}

export interface AppRoutes {
  /** Application Services that currently serve `app` (and are connected). */
  findServers(app: string): Promise<AppServerRoute[]>;
  /** Opens a stream to a service (its reverse tunnel). */
  dial(server: AppServerRoute, info: { clientAddr: string; target: string }): Promise<Duplex>;
}

export const noServiceMessage = (app: string) => `app ${app} is not available: no Application Service serves it`;

/** Dials one of the services serving `header.app` (random order) and writes the header. Fails with `connection-problem`. */
export async function openAppStream(routes: AppRoutes, header: AppConnHeader, log: Logger, servers?: AppServerRoute[]): Promise<Duplex> {
  const list = servers ?? (await routes.findServers(header.app));
  if (list.length === 0) throw connectionProblem(noServiceMessage(header.app));
  const order = [...list].sort(() => Math.random() - 0.5);
  let last: unknown;
  for (const srv of order) {
    try {
      const s = await routes.dial(srv, { clientAddr: header.clientAddr, target: `${APP_DIAL_PREFIX}${header.app}` });
      s.write(encodeAppHeader(header));
      const sock = s as Duplex & { setNoDelay?: (v: boolean) => unknown };
      if (typeof sock.setNoDelay === "function") sock.setNoDelay(true);
      return s;
    } catch (e) {
      last = e;
      log.debug({ hostId: srv.hostId, app: header.app, err: String(e) }, "app proxy: dial failed");
    }
  }
  throw connectionProblem(`cannot reach app ${header.app}: ${isJumpgateError(last) ? last.message : "no Application Service answered"}`, last);
}
