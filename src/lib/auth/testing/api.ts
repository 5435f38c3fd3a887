import { type AuthClient, createAuthClient } from "../../../api/authclient.ts";
import { AUTH_SERVER_NAME } from "../../../api/constants.ts";
import { generateKeySet as freshKeys } from "../../crypto/index.ts";
import { startAuthApi } from "../api/server.ts";
import { issueHostCerts, issueUserCerts } from "../certs.ts";
import type { AuthContext } from "../context.ts";
import type { AuthServer } from "../server.ts";
import type { UserResource } from "../users.ts";

const pem = (k: ReturnType<typeof freshKeys>) => k.tls.privateKey.export({ format: "pem", type: "pkcs8" }).toString();

/** Starts the real Auth API over mTLS on a loopback port for a fixture's server. */
export async function startTestApi(server: AuthServer) {
  const ctx = server.ctx;
  const k = freshKeys();
  const certs = await issueHostCerts(ctx, {
    hostId: "auth-under-test",
    nodeName: "auth",
    role: "auth",
    principals: [],
    dnsNames: [AUTH_SERVER_NAME],
    ...k,
  });
  const api = await startAuthApi({
    server,
    host: "127.0.0.1",
    port: 0,
    tls: {
      key: pem(k),
      cert: certs.tlsCert,
      clientCas: [...ctx.authorities.get("user").tlsCerts, ...ctx.authorities.get("host").tlsCerts],
    },
  });
  const addr = `127.0.0.1:${api.port}`;
  const cas = ctx.authorities.get("host").tlsCerts;
  const clients: AuthClient[] = [];
  const track = (c: AuthClient) => {
    clients.push(c);
    return c;
  };
  return {
    addr,
    anonymous: () => track(createAuthClient({ addr, cas })),
    asHost: async (role: string, hostId = `${role}-host`, from: AuthContext = ctx) => {
      const hk = freshKeys();
      const hc = await issueHostCerts(from, { hostId, nodeName: hostId, role, principals: [], dnsNames: [], ...hk });
      return track(createAuthClient({ addr, identity: { key: pem(hk), cert: hc.tlsCert, cas } }));
    },
    asUser: async (name: string, from: AuthContext = ctx, ttlMs?: number) => {
      const uk = freshKeys();
      const user = (await from.stores.users.get(name)) as UserResource;
      const uc = await issueUserCerts(from, user, uk, ttlMs);
      return track(createAuthClient({ addr, identity: { key: pem(uk), cert: uc.tlsCert, cas } }));
    },
    close: async () => {
      for (const c of clients) c.close();
      await api.close();
    },
  };
}
