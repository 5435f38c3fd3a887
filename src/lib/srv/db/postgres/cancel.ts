/**
 * Cancel keys. The client gets a BackendKeyData we make up (the real one
 * names a server process the client cannot reach); a CancelRequest carrying
 * it arrives later on a separate connection, possibly through another path
 * of the same service, so the map is process-wide. A cancel is honoured only
 * for the same Jumpgate user and database the session belongs to.
 */
import { randomBytes, timingSafeEqual } from "node:crypto";

export interface UpstreamKey {
  pid: number;
  secret: Buffer;
}

export interface CancelTarget {
  /** Who owns the session: only they may cancel its queries. */
  user: string;
  database: string;
  /** Sends the real cancel request to the server. */
  cancel(key: UpstreamKey): Promise<void>;
  key: UpstreamKey;
}

const sessions = new Map<number, { secret: Buffer; target: CancelTarget }>();

/** Registers a session; returns the fake key to give the client and a function that forgets it. */
export function registerCancelKey(target: CancelTarget): {
  key: UpstreamKey;
  release(): void;
} {
  let pid: number;
  do pid = randomBytes(4).readInt32BE(0) & 0x7fff_ffff;
  while (pid === 0 || sessions.has(pid));
  const secret = randomBytes(4);
  sessions.set(pid, { secret, target });
  return {
    key: { pid, secret },
    release: () => {
      if (sessions.get(pid)?.secret === secret) sessions.delete(pid);
    },
  };
}

/** The session a fake key names, if the key is right and `user`/`database` own it. */
export function lookupCancelKey(pid: number, secret: Buffer, user: string, database: string): CancelTarget | undefined {
  const s = sessions.get(pid);
  if (s === undefined || s.secret.length !== secret.length || !timingSafeEqual(s.secret, secret)) return undefined;
  if (s.target.user !== user || s.target.database !== database) return undefined;
  return s.target;
}

/** Sessions with a live cancel key (for tests and metrics). */
export function cancelKeyCount(): number {
  return sessions.size;
}
