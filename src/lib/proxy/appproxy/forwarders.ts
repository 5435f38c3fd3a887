/**
 * One pooled, keep-alive HTTP forwarder per app session: its connections are
 * reverse-tunnel streams to an Application Service, each opened with the
 * session's certificate in the header, so requests of one session reuse them
 * and no two sessions ever share one.
 */
import type { Logger } from "pino";
import type { AppConnHeader } from "../../../api/appwire.ts";
import { type Clock, systemClock } from "../../../api/clock.ts";
import type { AppSession } from "../../../api/gen/jumpgate/v1/auth_pb.ts";
import { HttpForwarder } from "../../httpfwd/index.ts";
import { type AppRoutes, openAppStream } from "./dialer.ts";

const IDLE_MS = 2 * 60_000;
const SWEEP_MS = 30_000;
/** The proxy only relays; the service applies the app's own deadlines. This one only catches a dead stream. */
const HEADERS_TIMEOUT_MS = 10 * 60_000;

interface Entry {
  fwd: HttpForwarder;
  /** What new streams send first: the latest certificate and client address seen for the session. */
  header: AppConnHeader;
  expires: number;
  active: number;
  lastUsed: number;
}

export interface ForwarderLease {
  fwd: HttpForwarder;
  /** Call once the request (or upgrade handshake) is done. */
  release(): void;
}

export class ForwarderPool {
  private readonly entries = new Map<string, Entry>();
  private readonly sweeper: NodeJS.Timeout;
  private readonly clock: Clock;

  constructor(private readonly o: { routes: AppRoutes; log: Logger; clock?: Clock; idleMs?: number }) {
    this.clock = o.clock ?? systemClock;
    this.sweeper = setInterval(() => this.sweep(), SWEEP_MS);
    this.sweeper.unref();
  }

  get size(): number {
    return this.entries.size;
  }

  /** The forwarder for `session`, made on first use; `publicAddr` is the host the browser used. */
  lease(session: AppSession, clientAddr: string, publicAddr: string): ForwarderLease {
    let e = this.entries.get(session.id);
    if (!e) {
      const header: AppConnHeader = { cert: session.tlsCert, clientAddr, app: session.appName, publicAddr };
      const fwd = new HttpForwarder({
        url: `http://${session.appName}`,
        preserveHost: true,
        headersTimeoutMs: HEADERS_TIMEOUT_MS,
        dial: async (_target, signal) => {
          const s = await openAppStream(this.o.routes, { ...header }, this.o.log);
          if (signal.aborted) s.destroy();
          return s;
        },
      });
      e = { fwd, header, expires: 0, active: 0, lastUsed: 0 };
      this.entries.set(session.id, e);
    }
    e.header.cert = session.tlsCert;
    e.header.clientAddr = clientAddr;
    e.header.publicAddr = publicAddr;
    e.expires = Date.parse(session.expires);
    e.active += 1;
    e.lastUsed = this.clock.now().getTime();
    const entry = e;
    let released = false;
    return {
      fwd: e.fwd,
      release: () => {
        if (released) return;
        released = true;
        entry.active -= 1;
        entry.lastUsed = this.clock.now().getTime();
      },
    };
  }

  /** Drops the session's forwarder (logout); its open exchanges are cut. */
  drop(sessionId: string): void {
    const e = this.entries.get(sessionId);
    if (!e) return;
    this.entries.delete(sessionId);
    e.fwd.close();
  }

  sweep(): void {
    const now = this.clock.now().getTime();
    const idle = this.o.idleMs ?? IDLE_MS;
    for (const [id, e] of this.entries) {
      if (e.active > 0) continue;
      if (now - e.lastUsed >= idle || !(now < e.expires)) this.drop(id);
    }
  }

  close(): void {
    clearInterval(this.sweeper);
    for (const id of [...this.entries.keys()]) this.drop(id);
  }
}
