/**
 * Lines that configure OpenSSH to trust Jumpgate's CAs.
 */
import type { KeyObject } from "node:crypto";
import { badParameter } from "../../../api/errors.ts";
import { sshPublicKeyLine } from "../keys.ts";

/** `@cert-authority *.CLUSTER,CLUSTER ssh-ed25519 AAAA...` for `known_hosts`: trusts host certificates of the cluster. */
export function knownHostsCaLine(caPublicKey: KeyObject, clusterName: string): string {
  if (clusterName === "" || /[\s,*?!]/.test(clusterName)) throw badParameter("cluster name cannot be used as a known_hosts pattern");
  return `@cert-authority *.${clusterName},${clusterName} ${sshPublicKeyLine(caPublicKey)}`;
}

/** A line for sshd's `TrustedUserCAKeys` file: trusts user certificates signed by this CA. */
export function trustedUserCaKeysLine(caPublicKey: KeyObject, comment?: string): string {
  return sshPublicKeyLine(caPublicKey, comment);
}
