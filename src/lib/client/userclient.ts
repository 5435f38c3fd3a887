import { type AuthClient, createAuthClient } from "../../api/authclient.ts";
import { loadCredentials, type Profile, type StoredCredentials } from "./profile.ts";

/** The logged-in user's connection to the Auth API, through the proxy's one port. */
export function userAuthClient(p: Profile, creds: StoredCredentials = loadCredentials(p)): AuthClient {
  return createAuthClient({
    addr: p.proxy,
    identity: {
      key: creds.tlsKey.export({ format: "pem", type: "pkcs8" }).toString(),
      cert: creds.tlsCert,
      cas: creds.hostCaCerts,
    },
    viaProxy: { insecure: p.insecure },
  });
}
