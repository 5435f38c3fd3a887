import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { type AuthClient, createAuthClient } from "../../api/authclient.ts";
import { badParameter, isJumpgateError } from "../../api/errors.ts";
import { type Identity, parseIdentityFile } from "./identityfile.ts";

export interface AdminConnectOptions {
  dataDir?: string;
  /** Data dir named by the daemon's config file, when --config was given. */
  configDataDir?: string;
  identity?: string;
  authServer?: string;
  insecure?: boolean;
}

export interface AdminConnection {
  client: AuthClient;
  identity: Identity;
  addr: string;
}

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    throw badParameter(`cannot read ${what} ${path}; run jctl on the Auth host or pass --identity and --auth-server`);
  }
}

/**
 * jctl's connection: on the Auth host the admin identity the daemon keeps in its
 * data dir; elsewhere --identity FILE with --auth-server (Auth directly, or the
 * proxy, which forwards to Auth).
 */
export async function connectAdmin(o: AdminConnectOptions): Promise<AdminConnection> {
  let identity: Identity;
  let addr: string;
  if (o.identity) {
    identity = parseIdentityFile(readText(o.identity, "identity file"), o.identity);
    if (!o.authServer) throw badParameter("--identity needs --auth-server HOST:PORT");
    addr = o.authServer;
  } else {
    const candidates = [o.dataDir, o.configDataDir, process.env.JUMPGATE_DATA_DIR, "./data", "/var/lib/jumpgate"];
    const dir = candidates.find((d): d is string => !!d && existsSync(join(d, "admin", "identity")));
    if (!dir) {
      throw badParameter("no admin identity found; run jctl where the Auth Service runs (--data-dir DIR) or pass --identity FILE --auth-server HOST:PORT");
    }
    const path = resolve(dir, "admin", "identity");
    identity = parseIdentityFile(readText(path, "admin identity"), path);
    addr = o.authServer ?? readText(join(dir, "admin", "auth_addr"), "Auth address file").trim();
  }
  const tlsIdentity = {
    key: identity.tlsKey.export({ format: "pem", type: "pkcs8" }).toString(),
    cert: identity.tlsCert,
    cas: identity.tlsCas,
  };
  const direct = createAuthClient({ addr, identity: tlsIdentity, timeoutMs: 30_000 });
  try {
    await direct.ping({}, { timeoutMs: 5_000 });
    return { client: direct, identity, addr };
  } catch (e) {
    direct.close();
    if (!isJumpgateError(e, "connection-problem")) throw e;
  }
  // Not Auth itself: try it as a proxy address.
  const via = createAuthClient({ addr, identity: tlsIdentity, viaProxy: { insecure: !!o.insecure } });
  await via.ping({}, { timeoutMs: 10_000 });
  return { client: via, identity, addr };
}
