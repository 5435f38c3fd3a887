/**
 * Typed access to what patches/ssh2+*.patch adds to ssh2's server-side
 * connection: a banner during authentication and opening agent channels.
 */
import type { Connection, ServerChannel } from "ssh2";
import { JumpgateError } from "../../api/errors.ts";

export interface PatchedConnection extends Connection {
  authBanner(message: string): this;
  openssh_authAgent(cb: (err: Error | undefined, channel: ServerChannel) => void): this;
}

export function patched(c: Connection): PatchedConnection {
  const x = c as Partial<PatchedConnection> & Connection;
  if (typeof x.authBanner !== "function" || typeof x.openssh_authAgent !== "function") {
    throw new JumpgateError("internal", "ssh2 is not patched", { detail: "run `npm install` so patch-package applies patches/ssh2+*.patch" });
  }
  return x as PatchedConnection;
}

/**
 * ssh2 options that patches/ssh2+*.patch adds to `new ssh2.Server({...})` and
 * `client.connect({...})`: the window and the largest packet a connection
 * announces for each channel's incoming data. ssh2's own packet size (32 KiB)
 * makes every hop that carries another SSH connection in a channel (a reverse
 * tunnel, the proxy's route, jsh's end-to-end session) cut each inner packet in
 * two, the second a few dozen bytes. 128 KiB holds an inner packet whole (their
 * payload is 32 KiB from OpenSSH, 64 KiB from a pipe read) and stays well within
 * the 256 KiB that OpenSSH and the patched ssh2 read. The window stays at ssh2's
 * (and OpenSSH's) 2 MiB: larger ones did not help on loopback and raise what a
 * proxy may buffer per relayed connection.
 */
export const CHANNEL_OPTIONS: { channelWindow?: number; channelPacketSize?: number } = {
  channelPacketSize: 128 * 1024,
};
