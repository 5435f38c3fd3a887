/**
 * The names of the certificate extensions Jumpgate writes (DESIGN §2) and
 * readers that turn them back into typed values.
 */
import { badParameter } from "../../../api/errors.ts";
import type { SshCertificate } from "./codec.ts";

export const EXT_PERMIT_PTY = "permit-pty";
export const EXT_PERMIT_PORT_FORWARDING = "permit-port-forwarding";
export const EXT_PERMIT_AGENT_FORWARDING = "permit-agent-forwarding";
export const EXT_PERMIT_X11_FORWARDING = "permit-X11-forwarding";
export const EXT_ROLES = "jumpgate-roles";
export const EXT_TRAITS = "jumpgate-traits";
export const EXT_ROUTE_TO_CLUSTER = "jumpgate-route-to-cluster";
export const EXT_ACTIVE_REQUESTS = "jumpgate-active-requests";
export const EXT_HOST_ROLE = "jumpgate-role";
export const EXT_AUTHORITY = "jumpgate-authority";
export const OPT_SOURCE_ADDRESS = "source-address";

/** What a Jumpgate user certificate says beyond the standard fields. */
export interface UserCertExtensions {
  username: string;
  logins: string[];
  permitPty: boolean;
  permitPortForwarding: boolean;
  permitAgentForwarding: boolean;
  permitX11Forwarding: boolean;
  roles: string[];
  traits: Record<string, string[]>;
  routeToCluster?: string;
  activeRequests: string[];
  sourceAddress?: string;
}

export interface HostCertExtensions {
  hostId: string;
  principals: string[];
  role: string;
  clusterName: string;
}

function jsonOf(value: string, what: string): unknown {
  try {
    return JSON.parse(value);
  } catch {
    throw badParameter(`malformed certificate extension ${what}: not JSON`);
  }
}

export function stringList(value: unknown, what: string): string[] {
  if (!Array.isArray(value) || !value.every((v): v is string => typeof v === "string")) {
    throw badParameter(`malformed ${what}: want a list of strings`);
  }
  return [...value];
}

export function traitMap(value: unknown, what: string): Record<string, string[]> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw badParameter(`malformed ${what}: want a map`);
  // fromEntries defines own properties, so a "__proto__" key cannot change the prototype.
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, stringList(v, `${what} ${JSON.stringify(k)}`)]));
}

/** Reads the Jumpgate fields of a user certificate (does not verify it). */
export function readUserCertExtensions(cert: SshCertificate): UserCertExtensions {
  if (cert.type !== "user") throw badParameter("not a user certificate");
  const ext = cert.extensions;
  const rolesRaw = ext.get(EXT_ROLES);
  const traitsRaw = ext.get(EXT_TRAITS);
  const activeRaw = ext.get(EXT_ACTIVE_REQUESTS);
  const route = ext.get(EXT_ROUTE_TO_CLUSTER);
  const source = cert.criticalOptions.get(OPT_SOURCE_ADDRESS);
  const out: UserCertExtensions = {
    username: cert.keyId,
    logins: [...cert.principals],
    permitPty: ext.has(EXT_PERMIT_PTY),
    permitPortForwarding: ext.has(EXT_PERMIT_PORT_FORWARDING),
    permitAgentForwarding: ext.has(EXT_PERMIT_AGENT_FORWARDING),
    permitX11Forwarding: ext.has(EXT_PERMIT_X11_FORWARDING),
    roles: rolesRaw === undefined ? [] : stringList(jsonOf(rolesRaw, EXT_ROLES), EXT_ROLES),
    traits: traitsRaw === undefined ? {} : traitMap(jsonOf(traitsRaw, EXT_TRAITS), EXT_TRAITS),
    activeRequests: activeRaw === undefined ? [] : stringList(jsonOf(activeRaw, EXT_ACTIVE_REQUESTS), EXT_ACTIVE_REQUESTS),
  };
  if (route !== undefined && route !== "") out.routeToCluster = route;
  if (source !== undefined) out.sourceAddress = source;
  return out;
}

/** Reads the Jumpgate fields of a host certificate (does not verify it). */
export function readHostCertExtensions(cert: SshCertificate): HostCertExtensions {
  if (cert.type !== "host") throw badParameter("not a host certificate");
  return {
    hostId: cert.keyId,
    principals: [...cert.principals],
    role: cert.extensions.get(EXT_HOST_ROLE) ?? "",
    clusterName: cert.extensions.get(EXT_AUTHORITY) ?? "",
  };
}
