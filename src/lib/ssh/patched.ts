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
