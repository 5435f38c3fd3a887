import { X509Certificate } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import type { Logger } from "pino";
import { badParameter } from "../../api/errors.ts";
import { type Identity, parseIdentityFile, webCall } from "../client/index.ts";
import { decodeIdentity, generateKeySet } from "../crypto/index.ts";
import { writeIdentityFile } from "./identity.ts";

interface JoinResponse {
  ssh_cert: string;
  tls_cert: string;
  tls_ca_certs: string[];
  ssh_ca_keys: string[];
  cluster_name: string;
  host_id: string;
}

export interface JoinedIdentity {
  identity: Identity;
  clusterName: string;
}

/** Seconds left before the identity's X.509 certificate expires. */
export function secondsLeft(id: Identity, now = Date.now()): number {
  return (new Date(new X509Certificate(id.tlsCert).validTo).getTime() - now) / 1000;
}

/**
 * An agent's identity: reused from its data dir while valid, otherwise
 * obtained by joining through the proxy's web API with a token.
 */
export async function joinThroughProxy(o: {
  path: string;
  proxyAddr: string;
  insecure: boolean;
  token: string | undefined;
  hostId: string;
  nodeName: string;
  role: string;
  dnsNames: string[];
  log: Logger;
}): Promise<JoinedIdentity> {
  if (existsSync(o.path)) {
    const id = parseIdentityFile(readFileSync(o.path, "utf8"), o.path);
    if (secondsLeft(id) > 60) {
      const cluster = clusterOf(id);
      return { identity: id, clusterName: cluster };
    }
    o.log.info("stored identity has expired; joining again");
  }
  if (!o.token) throw badParameter("this agent has not joined the cluster yet: pass --token (from jctl tokens add)");
  const keys = generateKeySet();
  const r = await webCall<JoinResponse>({ proxy: o.proxyAddr, insecure: o.insecure }, "POST", "/webapi/host/join", {
    token: o.token,
    host_id: o.hostId,
    node_name: o.nodeName,
    role: o.role,
    dns_names: o.dnsNames,
    ssh_public_key: keys.sshPublicKey,
    tls_public_key: keys.tlsPublicKey,
  });
  const identity: Identity = {
    sshKey: keys.ssh.privateKey,
    sshCert: r.ssh_cert,
    tlsKey: keys.tls.privateKey,
    tlsCert: r.tls_cert,
    tlsCas: r.tls_ca_certs,
    knownHosts: [],
  };
  writeIdentityFile(o.path, identity);
  o.log.info({ cluster: r.cluster_name, hostId: o.hostId }, "joined the cluster");
  return { identity, clusterName: r.cluster_name };
}

function clusterOf(id: Identity): string {
  return decodeIdentity(id.tlsCert).clusterName;
}
