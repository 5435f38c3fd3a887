/**
 * Signing: raw SSH signatures (RFC 8709 / RFC 5656 blobs), certificates in
 * general, and Jumpgate's user and host certificates (DESIGN §2).
 */
import crypto, { type KeyObject } from "node:crypto";
import type { Clock } from "../../../api/clock.ts";
import { badParameter } from "../../../api/errors.ts";
import { parseSshPublicKey, SSH_ED25519, sshKeyAlgorithm, toPublicKey } from "../keys.ts";
import { mpint, str } from "../wire.ts";
import { appendSignature, dateToSeconds, encodeCertificateBody, parseCertificateBlob, type SshCertificate, type SshCertificateBody } from "./codec.ts";
import {
  EXT_ACTIVE_REQUESTS,
  EXT_AUTHORITY,
  EXT_HOST_ROLE,
  EXT_PERMIT_AGENT_FORWARDING,
  EXT_PERMIT_PORT_FORWARDING,
  EXT_PERMIT_PTY,
  EXT_PERMIT_X11_FORWARDING,
  EXT_ROLES,
  EXT_ROUTE_TO_CLUSTER,
  EXT_TRAITS,
  OPT_SOURCE_ADDRESS,
} from "./extensions.ts";
import { normalizeSourceAddressList } from "./source-address.ts";

/** How far in the past `valid after` is set, so a fresh certificate is accepted despite clock skew. */
export const BACKDATE_MS = 60_000;

/** Signs `data` and returns the SSH signature blob: string algorithm, string signature. */
export function signSshData(privateKey: KeyObject, data: Buffer): Buffer {
  if (privateKey.type !== "private") throw badParameter("signing needs a private key");
  const alg = sshKeyAlgorithm(privateKey);
  if (alg === SSH_ED25519) return Buffer.concat([str(alg), str(crypto.sign(null, data, privateKey))]);
  const rs = crypto.sign("sha256", data, { key: privateKey, dsaEncoding: "ieee-p1363" });
  return Buffer.concat([str(alg), str(Buffer.concat([mpint(rs.subarray(0, 32)), mpint(rs.subarray(32))]))]);
}

/** Signs a certificate body with the CA's private key (the body's signature key is set from it). */
export function signCertificate(body: Omit<SshCertificateBody, "signatureKey">, caKey: KeyObject): SshCertificate {
  const signatureKey = toPublicKey(caKey);
  const encoded = encodeCertificateBody({ ...body, signatureKey });
  return parseCertificateBlob(appendSignature(encoded, signSshData(caKey, encoded)));
}

/** A subject key as a KeyObject, an `authorized_keys` line or a public key blob. */
export type SubjectKey = KeyObject | string | Buffer;

function subjectKey(k: SubjectKey): KeyObject {
  const key = typeof k === "string" || Buffer.isBuffer(k) ? parseSshPublicKey(k) : toPublicKey(k);
  sshKeyAlgorithm(key);
  return key;
}

function checkText(v: string, what: string): void {
  const control = [...v].some((ch) => ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f);
  if (v === "" || control) throw badParameter(`${what} must be non-empty text without control characters`);
}

function validity(clock: Clock, ttlMs: number): { validAfterSeconds: bigint; validBeforeSeconds: bigint } {
  if (!Number.isFinite(ttlMs) || ttlMs <= 0) throw badParameter("certificate TTL must be positive");
  const now = clock.now().getTime();
  return {
    validAfterSeconds: dateToSeconds(new Date(now - BACKDATE_MS)),
    validBeforeSeconds: dateToSeconds(new Date(now + ttlMs)),
  };
}

function randomSerial(): bigint {
  return crypto.randomBytes(8).readBigUInt64BE(0);
}

export interface UserCertificateRequest {
  publicKey: SubjectKey;
  caKey: KeyObject;
  /** The username. */
  keyId: string;
  /** The OS logins the user may use. */
  principals: readonly string[];
  ttlMs: number;
  clock: Clock;
  permitPty: boolean;
  permitPortForwarding: boolean;
  permitAgentForwarding: boolean;
  permitX11Forwarding: boolean;
  roles: readonly string[];
  traits: Readonly<Record<string, readonly string[]>>;
  /** Written as `jumpgate-route-to-cluster` when non-empty. */
  routeToCluster?: string;
  /** Written as `jumpgate-active-requests` when non-empty. */
  activeRequests?: readonly string[];
  /** Pins the certificate to these addresses/CIDR blocks (critical option `source-address`). */
  sourceAddress?: string | readonly string[];
  serial?: bigint;
}

/** Issues a user certificate: key id = username, principals = logins, Jumpgate extensions per DESIGN §2. */
export function signUserCertificate(req: UserCertificateRequest): SshCertificate {
  checkText(req.keyId, "certificate key id");
  if (req.principals.length === 0) throw badParameter("a user certificate needs at least one login");
  for (const p of req.principals) checkText(p, "login");
  const extensions = new Map<string, string>();
  if (req.permitPty) extensions.set(EXT_PERMIT_PTY, "");
  if (req.permitPortForwarding) extensions.set(EXT_PERMIT_PORT_FORWARDING, "");
  if (req.permitAgentForwarding) extensions.set(EXT_PERMIT_AGENT_FORWARDING, "");
  if (req.permitX11Forwarding) extensions.set(EXT_PERMIT_X11_FORWARDING, "");
  extensions.set(EXT_ROLES, JSON.stringify([...req.roles]));
  extensions.set(EXT_TRAITS, JSON.stringify(Object.fromEntries(Object.entries(req.traits).map(([k, v]) => [k, [...v]]))));
  if (req.routeToCluster) extensions.set(EXT_ROUTE_TO_CLUSTER, req.routeToCluster);
  if (req.activeRequests && req.activeRequests.length > 0) extensions.set(EXT_ACTIVE_REQUESTS, JSON.stringify([...req.activeRequests]));
  const criticalOptions = new Map<string, string>();
  if (req.sourceAddress !== undefined) criticalOptions.set(OPT_SOURCE_ADDRESS, normalizeSourceAddressList(req.sourceAddress));
  return signCertificate(
    {
      nonce: crypto.randomBytes(32),
      publicKey: subjectKey(req.publicKey),
      serial: req.serial ?? randomSerial(),
      type: "user",
      keyId: req.keyId,
      principals: [...req.principals],
      ...validity(req.clock, req.ttlMs),
      criticalOptions,
      extensions,
      reserved: Buffer.alloc(0),
    },
    req.caKey,
  );
}

export interface HostCertificateRequest {
  publicKey: SubjectKey;
  caKey: KeyObject;
  /** The host UUID (the key id, and the first principals `UUID` and `UUID.CLUSTER`). */
  hostId: string;
  clusterName: string;
  /** Further principals: the hostname and the configured public addresses. */
  principals: readonly string[];
  /** The host's system role, e.g. "node" or "proxy". */
  role: string;
  ttlMs: number;
  clock: Clock;
  serial?: bigint;
}

/** Issues a host certificate: key id = host UUID; principals UUID, UUID.CLUSTER, then the given ones. */
export function signHostCertificate(req: HostCertificateRequest): SshCertificate {
  checkText(req.hostId, "host id");
  checkText(req.clusterName, "cluster name");
  checkText(req.role, "host role");
  for (const p of req.principals) checkText(p, "host principal");
  const principals = [...new Set([req.hostId, `${req.hostId}.${req.clusterName}`, ...req.principals])];
  return signCertificate(
    {
      nonce: crypto.randomBytes(32),
      publicKey: subjectKey(req.publicKey),
      serial: req.serial ?? randomSerial(),
      type: "host",
      keyId: req.hostId,
      principals,
      ...validity(req.clock, req.ttlMs),
      criticalOptions: new Map(),
      extensions: new Map([
        [EXT_HOST_ROLE, req.role],
        [EXT_AUTHORITY, req.clusterName],
      ]),
      reserved: Buffer.alloc(0),
    },
    req.caKey,
  );
}
