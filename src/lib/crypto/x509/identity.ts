/**
 * The X.509 identity format (DESIGN §2), owned here and nowhere else:
 *
 * - Subject CN = username (the host UUID for hosts), one O per role (users, bots)
 *   or per system role (hosts: "node", "proxy", "admin"...), one L per login;
 * - a non-critical extension under the private OID `1.3.6.1.4.1.59999.1.1`
 *   (`IDENTITY_OID`) whose value is a DER UTF8String holding a JSON object:
 *   `{ v: 1, kind, traits, routeToCluster?, routeToDatabase?, routeToApp?, kubernetesCluster?,
 *      kubernetesGroups, kubernetesUsers, activeRequests, mfaVerified?,
 *      expires (ISO 8601), hostId?, nodeName?, clusterName }`.
 *   Unknown JSON fields are ignored, so newer issuers stay readable.
 */
import type { X509Certificate as NodeX509Certificate } from "node:crypto";
import { z } from "zod";
import { badParameter } from "../../../api/errors.ts";
import { toX509 } from "./provider.ts";

/** Private enterprise arc used for Jumpgate's identity extension. */
export const IDENTITY_OID = "1.3.6.1.4.1.59999.1.1";
const FORMAT_VERSION = 1;
const MAX_PAYLOAD = 64 * 1024;

export type IdentityKind = "user" | "host" | "bot";

export interface RouteToDatabase {
  serviceName: string;
  protocol: string;
  username: string;
  database: string;
}

export interface RouteToApp {
  name: string;
  publicAddr: string;
  clusterName: string;
  sessionId: string;
}

export interface Identity {
  kind: IdentityKind;
  /** The user or bot name; for hosts, the host UUID. */
  username: string;
  /** Roles of a user or bot (empty for hosts). */
  roles: string[];
  logins: string[];
  traits: Record<string, string[]>;
  routeToCluster?: string;
  routeToDatabase?: RouteToDatabase;
  routeToApp?: RouteToApp;
  /** The Kubernetes cluster (`kube_cluster` name) a certificate from `jsh kube login` is for. */
  kubernetesCluster?: string;
  kubernetesGroups: string[];
  kubernetesUsers: string[];
  activeRequests: string[];
  mfaVerified?: boolean;
  expires: Date;
  /** System roles of a host ("node", "proxy", ...); empty for users and bots. */
  systemRoles: string[];
  hostId?: string;
  nodeName?: string;
  clusterName: string;
}

const text = z.string().max(4096);
const list = z.array(text).max(4096);

/** A map of trait name to values; checked by hand because z.record drops a "__proto__" key. */
const traitsSchema = z.custom<Record<string, string[]>>(
  (v) => typeof v === "object" && v !== null && !Array.isArray(v) && Object.entries(v).every(([k, vals]) => k.length <= 4096 && list.safeParse(vals).success),
  { message: "want a map of string lists" },
);

const payloadSchema = z.object({
  v: z.literal(FORMAT_VERSION),
  kind: z.enum(["user", "host", "bot"]),
  traits: traitsSchema,
  routeToCluster: text.optional(),
  routeToDatabase: z.object({ serviceName: text, protocol: text, username: text, database: text }).optional(),
  routeToApp: z.object({ name: text, publicAddr: text, clusterName: text, sessionId: text }).optional(),
  kubernetesCluster: text.optional(),
  kubernetesGroups: list,
  kubernetesUsers: list,
  activeRequests: list,
  mfaVerified: z.boolean().optional(),
  expires: z.iso.datetime({ offset: true }),
  hostId: text.optional(),
  nodeName: text.optional(),
  clusterName: text,
});

type Payload = z.infer<typeof payloadSchema>;

/** Name entries in `@peculiar/x509`'s JSON form: one RDN per value. */
export type SubjectEntries = Array<Record<string, string[]>>;

export interface EncodedIdentity {
  subject: SubjectEntries;
  extension: { oid: string; critical: false; value: Buffer };
}

// ---- DER UTF8String, the extension's value ----

function derUtf8String(s: string): Buffer {
  const body = Buffer.from(s, "utf8");
  const n = body.length;
  const len =
    n < 0x80
      ? Buffer.from([n])
      : n < 0x100
        ? Buffer.from([0x81, n])
        : n < 0x10000
          ? Buffer.from([0x82, n >> 8, n & 0xff])
          : Buffer.from([0x83, n >> 16, (n >> 8) & 0xff, n & 0xff]);
  return Buffer.concat([Buffer.from([0x0c]), len, body]);
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

function readDerUtf8String(b: Buffer): string {
  if (b.length < 2 || b[0] !== 0x0c) throw badParameter("malformed Jumpgate identity: not a UTF8String");
  const first = b[1] ?? 0;
  let len = first;
  let off = 2;
  if (first & 0x80) {
    const k = first & 0x7f;
    if (k < 1 || k > 3 || b.length < 2 + k) throw badParameter("malformed Jumpgate identity: bad length");
    len = 0;
    for (let i = 0; i < k; i++) len = len * 256 + (b[2 + i] ?? 0);
    off = 2 + k;
  }
  if (len > MAX_PAYLOAD || off + len !== b.length) throw badParameter("malformed Jumpgate identity: bad length");
  try {
    return utf8.decode(b.subarray(off));
  } catch {
    throw badParameter("malformed Jumpgate identity: invalid UTF-8");
  }
}

// ---- encode ----

function checkIdentity(id: Identity): void {
  if (id.username === "") throw badParameter("identity needs a username");
  for (const v of [...id.roles, ...id.systemRoles, ...id.logins]) {
    if (v === "") throw badParameter("identity roles and logins cannot be empty");
  }
  if (Number.isNaN(id.expires.getTime())) throw badParameter("identity expiry is not a valid date");
  if (id.kind === "host" && (id.hostId === undefined || id.hostId !== id.username)) {
    throw badParameter("a host identity needs hostId equal to its username");
  }
}

/** The subject entries and the identity extension for a certificate carrying `id`. */
export function encodeIdentity(id: Identity): EncodedIdentity {
  checkIdentity(id);
  const orgs = id.kind === "host" ? id.systemRoles : id.roles;
  const subject: SubjectEntries = [{ CN: [id.username] }, ...orgs.map((o) => ({ O: [o] })), ...id.logins.map((l) => ({ L: [l] }))];
  const payload: Payload = {
    v: FORMAT_VERSION,
    kind: id.kind,
    traits: id.traits,
    kubernetesGroups: id.kubernetesGroups,
    kubernetesUsers: id.kubernetesUsers,
    activeRequests: id.activeRequests,
    expires: id.expires.toISOString(),
    clusterName: id.clusterName,
  };
  if (id.routeToCluster !== undefined) payload.routeToCluster = id.routeToCluster;
  if (id.routeToDatabase !== undefined) payload.routeToDatabase = { ...id.routeToDatabase };
  if (id.routeToApp !== undefined) payload.routeToApp = { ...id.routeToApp };
  if (id.kubernetesCluster !== undefined) payload.kubernetesCluster = id.kubernetesCluster;
  if (id.mfaVerified !== undefined) payload.mfaVerified = id.mfaVerified;
  if (id.hostId !== undefined) payload.hostId = id.hostId;
  if (id.nodeName !== undefined) payload.nodeName = id.nodeName;
  const json = JSON.stringify(payload);
  if (Buffer.byteLength(json) > MAX_PAYLOAD) throw badParameter("identity too large for a certificate");
  return { subject, extension: { oid: IDENTITY_OID, critical: false, value: derUtf8String(json) } };
}

// ---- decode ----

/** Validates the extension's JSON payload (exported for tests and fuzzing). */
export function decodeIdentityPayload(extensionValue: Buffer): Payload {
  const json = readDerUtf8String(extensionValue);
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    throw badParameter("malformed Jumpgate identity: not JSON");
  }
  const r = payloadSchema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0];
    const where = issue ? issue.path.map(String).join(".") : "";
    throw badParameter(`malformed Jumpgate identity${where ? ` at ${where}` : ""}: ${issue?.message ?? "invalid"}`);
  }
  return r.data;
}

/**
 * Reads the identity from a certificate (PEM, DER or Node X509Certificate). Throws
 * `badParameter`. It does not check who signed the certificate: that is the TLS
 * handshake's job (or `verifyChain`'s).
 */
export function decodeIdentity(cert: string | Buffer | Uint8Array | NodeX509Certificate): Identity {
  const c = toX509(cert);
  let cn: string[];
  let orgs: string[];
  let logins: string[];
  let extValue: Buffer | undefined;
  try {
    const name = c.subjectName;
    cn = name.getField("CN");
    orgs = name.getField("O");
    logins = name.getField("L");
    const ext = c.getExtension(IDENTITY_OID);
    extValue = ext ? Buffer.from(ext.value) : undefined;
  } catch {
    throw badParameter("malformed X.509 certificate");
  }
  if (extValue === undefined) throw badParameter("certificate carries no Jumpgate identity");
  const p = decodeIdentityPayload(extValue);
  const username = cn[0];
  if (cn.length !== 1 || username === undefined || username === "") throw badParameter("malformed Jumpgate identity: want exactly one CN");
  if (p.kind === "host" && p.hostId !== username) throw badParameter("malformed Jumpgate identity: host id does not match CN");
  const claimed = new Date(p.expires);
  const expires = claimed.getTime() > c.notAfter.getTime() ? c.notAfter : claimed;
  const id: Identity = {
    kind: p.kind,
    username,
    roles: p.kind === "host" ? [] : orgs,
    logins,
    // fromEntries defines own properties, so a "__proto__" trait cannot change the prototype.
    traits: Object.fromEntries(Object.entries(p.traits)),
    kubernetesGroups: p.kubernetesGroups,
    kubernetesUsers: p.kubernetesUsers,
    activeRequests: p.activeRequests,
    expires,
    systemRoles: p.kind === "host" ? orgs : [],
    clusterName: p.clusterName,
  };
  if (p.routeToCluster !== undefined) id.routeToCluster = p.routeToCluster;
  if (p.routeToDatabase !== undefined) id.routeToDatabase = p.routeToDatabase;
  if (p.routeToApp !== undefined) id.routeToApp = p.routeToApp;
  if (p.kubernetesCluster !== undefined) id.kubernetesCluster = p.kubernetesCluster;
  if (p.mfaVerified !== undefined) id.mfaVerified = p.mfaVerified;
  if (p.hostId !== undefined) id.hostId = p.hostId;
  if (p.nodeName !== undefined) id.nodeName = p.nodeName;
  return id;
}
