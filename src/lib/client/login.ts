import { generateEcdsaP256, generateEd25519, knownHostsCaLine, parseSshPublicKey, sshPublicKeyLine } from "../crypto/index.ts";
import { type Profile, saveProfile } from "./profile.ts";
import { webCall } from "./webclient.ts";

export interface LoginResponse {
  username: string;
  cluster_name: string;
  ssh_cert: string;
  tls_cert: string;
  tls_ca_certs: string[];
  host_ca_certs: string[];
  ssh_ca_keys: string[];
  roles: string[];
  logins: string[];
  expires: string;
}

export interface PingResponse {
  cluster_name: string;
  server_version: string;
  auth: { second_factor: string; type: string };
  proxy: { public_addr: string };
}

export function ping(proxy: string, insecure: boolean): Promise<PingResponse> {
  return webCall<PingResponse>({ proxy, insecure }, "GET", "/webapi/ping");
}

/** Password (+ OTP) login through the proxy; fresh keys every time, saved in the profile. */
export async function login(o: {
  proxy: string;
  user: string;
  password: string;
  otp: string;
  insecure: boolean;
  ttlSeconds?: number;
}): Promise<{ profile: Profile; response: LoginResponse }> {
  const ssh = generateEd25519();
  const tls = generateEcdsaP256();
  const sshPub = sshPublicKeyLine(ssh.publicKey);
  const r = await webCall<LoginResponse>({ proxy: o.proxy, insecure: o.insecure }, "POST", "/webapi/login", {
    user: o.user,
    password: o.password,
    otp: o.otp,
    ssh_public_key: sshPub,
    tls_public_key: tls.publicKey.export({ format: "pem", type: "spki" }).toString(),
    ...(o.ttlSeconds ? { ttl_seconds: o.ttlSeconds } : {}),
  });
  const profile: Profile = { proxy: o.proxy, user: r.username, cluster: r.cluster_name, insecure: o.insecure };
  saveProfile(
    profile,
    {
      sshKey: ssh.privateKey,
      sshCert: r.ssh_cert,
      tlsKey: tls.privateKey,
      tlsCert: r.tls_cert,
      hostCaCerts: r.host_ca_certs,
      userCaCerts: r.tls_ca_certs,
      knownHosts: r.ssh_ca_keys.map((k) => knownHostsCaLine(parseSshPublicKey(k), r.cluster_name)),
    },
    sshPub,
  );
  return { profile, response: r };
}
