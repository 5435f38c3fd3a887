/**
 * The Auth reads and resource announcements that the agent parts (databases,
 * apps, Kubernetes; agent-part.ts) share: the user, role and lock reads each
 * connection makes, shared for a moment; `*_server` heartbeats; and following
 * resources registered with jctl that match a service's label matchers.
 */
import type { Logger } from "pino";
import type { AuthClient } from "../../api/authclient.ts";
import type { Clock } from "../../api/clock.ts";
import { storedFromProto, toProto } from "../../api/convert.ts";
import type { StoredResource } from "../../api/resource.ts";
import { findLock, type Lock, lockMessage, type Role } from "../../api/resources/index.ts";
import { type CommandLabels, Heartbeat } from "../srv/agent/index.ts";
import { shortLived } from "./shortcache.ts";

const RESOURCE_POLL_MS = 15_000;
/**
 * How long the user, role and lock reads are shared between connections and
 * requests: a new lock takes effect at most this much later.
 */
const AUTH_READ_TTL_MS = 1_000;

/** The user's current roles and traits, roles as Auth holds them, and locks: read for each connection. */
export interface AuthReads {
  /** Undefined when the user does not exist (or cannot be read). */
  getUser(name: string): Promise<{ roles: string[]; traits: Record<string, string[]> } | undefined>;
  getRole(name: string): Promise<Role | undefined>;
  /** The message of a lock in force on the user, one of the roles or this host; undefined when none. */
  lockedBy(who: { user: string; roles: string[] }): Promise<string | undefined>;
}

/** One resource entry per served name (`db_server`, `app_server`, `kube_server`), kept alive by heartbeats. */
export interface Announcer {
  /** Starts the heartbeat of `name`, or writes it again now when it runs. */
  announce(name: string): void;
  /** Stops it and removes the entry from Auth. */
  withdraw(name: string): void;
}

/** The reads every connection makes, shared for `AUTH_READ_TTL_MS`; failures read as "none". */
export function authReads(auth: Pick<AuthClient, "getResource" | "listResources">, clock: Clock, hostId: string): AuthReads {
  const readUser = shortLived(AUTH_READ_TTL_MS, async (name) => {
    const u = storedFromProto(await auth.getResource({ kind: "user", name }));
    const spec = u.spec as { roles: string[]; traits: Record<string, string[]> };
    return { roles: spec.roles, traits: spec.traits ?? {} };
  });
  const readRole = shortLived(AUTH_READ_TTL_MS, async (name) => storedFromProto(await auth.getResource({ kind: "role", name })) as unknown as Role);
  const readLocks = shortLived(AUTH_READ_TTL_MS, async () =>
    (await auth.listResources({ kind: "lock" })).resources.map((x) => storedFromProto(x) as unknown as Lock),
  );
  return {
    getUser: async (name) => {
      try {
        return await readUser(name);
      } catch {
        return undefined;
      }
    },
    getRole: async (name) => {
      try {
        return await readRole(name);
      } catch {
        return undefined;
      }
    },
    lockedBy: async (who) => {
      const l = findLock(await readLocks(""), { ...who, node: hostId }, clock.now());
      return l ? lockMessage(l) : undefined;
    },
  };
}

export function announcer(
  auth: Pick<AuthClient, "upsertResource" | "deleteResource">,
  clock: Clock,
  log: Logger,
  a: { kind: string; entryName(name: string): string; build(name: string): StoredResource | undefined },
  onClose: (fn: () => void) => void,
): Announcer {
  const heartbeats = new Map<string, Heartbeat>();
  onClose(() => {
    for (const hb of heartbeats.values()) hb.stop();
  });
  return {
    announce: (name) => {
      const first = a.build(name);
      if (!first) return;
      const hb = heartbeats.get(name);
      if (hb) {
        hb.poke();
        return;
      }
      let last = first;
      const next = new Heartbeat({
        build: () => {
          last = a.build(name) ?? last;
          return last;
        },
        announce: async (res) => {
          await auth.upsertResource({ resource: toProto(res), overwrite: true });
        },
        clock,
        log,
      });
      heartbeats.set(name, next);
      void next.start();
    },
    withdraw: (name) => {
      heartbeats.get(name)?.stop();
      heartbeats.delete(name);
      void auth.deleteResource({ kind: a.kind, name: a.entryName(name) }).catch(() => undefined);
    },
  };
}

/** Command labels as a resource announces them (`spec.dynamic_labels`): command, period, last result. */
export function announcedLabels(labels: Pick<CommandLabels, "current">): Record<string, { command: string[]; period: string; result?: string }> {
  return Object.fromEntries(
    Object.entries(labels.current()).map(([k, v]) => [
      k,
      { command: v.command, period: `${Math.round(v.periodMs / 1000)}s`, ...(v.result !== undefined ? { result: v.result } : {}) },
    ]),
  );
}

/** Does a resource's labels match one of a service's label matchers (`*_service.resources`)? `"*": "*"` matches all. */
export function matchesResource(labels: Record<string, string>, matchers: { labels: Record<string, string> }[]): boolean {
  return matchers.some((m) =>
    Object.entries(m.labels).every(([k, v]) => (k === "*" && v === "*") || (labels[k] !== undefined && (v === "*" || labels[k] === v))),
  );
}

type Registered = { metadata: { name: string; labels?: Record<string, string> | undefined } };

/**
 * Resources registered with jctl (`db`, `app`) that match the service's
 * `resources` matchers, listed now and every few seconds: new matches are
 * served, those gone withdrawn. Names configured in the file (`skip`) win.
 */
export async function followRegistered<R extends Registered>(
  ctx: { auth: Pick<AuthClient, "listResources">; log: Logger; onClose(fn: () => void): void },
  o: {
    kind: string;
    matchers: { labels: Record<string, string> }[];
    skip: ReadonlySet<string>;
    /** Names served now from registered resources. */
    served(): Iterable<string>;
    serve(name: string, resource: R): void;
    withdraw(name: string): void;
    /** After each pass. */
    after?(): void;
  },
): Promise<void> {
  if (o.matchers.length === 0) return;
  const sync = async () => {
    const list = (await ctx.auth.listResources({ kind: o.kind })).resources.map((x) => storedFromProto(x) as unknown as R);
    const wanted = new Map<string, R>();
    for (const res of list) {
      if (o.skip.has(res.metadata.name) || !matchesResource(res.metadata.labels ?? {}, o.matchers)) continue;
      wanted.set(res.metadata.name, res);
    }
    for (const name of [...o.served()]) if (!wanted.has(name)) o.withdraw(name);
    for (const [name, res] of wanted) o.serve(name, res);
    o.after?.();
  };
  const warn = (e: unknown) => ctx.log.warn({ err: String(e) }, `cannot list ${o.kind} resources`);
  await sync().catch(warn);
  const t = setInterval(() => void sync().catch(warn), RESOURCE_POLL_MS);
  t.unref();
  ctx.onClose(() => clearInterval(t));
}
