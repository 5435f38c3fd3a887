import { createPrivateKey, type KeyObject } from "node:crypto";
import type { Clock } from "../../api/clock.ts";
import { notFound } from "../../api/errors.ts";
import { certFingerprint, createCa, generateEcdsaP256, generateEd25519, sshFingerprint, sshPublicKeyLine } from "../crypto/index.ts";
import type { ResourceStore, StoredResource } from "../services/index.ts";

export type CaType = "user" | "host" | "db" | "jwt";
export const CA_TYPES: CaType[] = ["user", "host", "db", "jwt"];

interface SshKeyPair {
  public_key: string;
  private_key?: string;
}
interface TlsKeyPair {
  cert: string;
  key?: string;
}
interface JwtKeyPair {
  public_key: string;
  private_key?: string;
}
export interface CaResource extends StoredResource {
  kind: "cert_authority";
  spec: {
    type: CaType;
    cluster_name: string;
    active_keys: { ssh?: SshKeyPair[]; tls?: TlsKeyPair[]; jwt?: JwtKeyPair[] };
    additional_trusted_keys?: { ssh?: SshKeyPair[]; tls?: TlsKeyPair[]; jwt?: JwtKeyPair[] };
  };
}

/** A loaded CA: signing keys of the active key set plus everything trusted. */
export interface LoadedCa {
  type: CaType;
  sshSigner?: KeyObject;
  sshPublicKeys: string[];
  tlsSigner?: { cert: string; key: KeyObject };
  tlsCerts: string[];
  jwtSigner?: KeyObject;
  jwtPublicKeys: string[];
}

const pem = (k: KeyObject, type: "pkcs8" | "spki") => k.export({ format: "pem", type } as { format: "pem"; type: "pkcs8" }) as string;

async function newCa(type: CaType, clusterName: string, clock: Clock): Promise<CaResource> {
  const active: CaResource["spec"]["active_keys"] = {};
  if (type === "user" || type === "host") {
    const k = generateEd25519();
    active.ssh = [{ public_key: sshPublicKeyLine(k.publicKey), private_key: pem(k.privateKey, "pkcs8") }];
  }
  if (type === "jwt") {
    const k = generateEcdsaP256();
    active.jwt = [{ public_key: pem(k.publicKey, "spki"), private_key: pem(k.privateKey, "pkcs8") }];
  } else {
    const ca = await createCa({ commonName: clusterName, organization: `${clusterName} ${type} CA`, clock });
    active.tls = [{ cert: ca.certPem, key: pem(ca.privateKey, "pkcs8") }];
  }
  return {
    kind: "cert_authority",
    version: "v2",
    sub_kind: type,
    metadata: { name: type },
    spec: { type, cluster_name: clusterName, active_keys: active },
  };
}

export function loadCa(res: CaResource): LoadedCa {
  const all = [res.spec.active_keys, res.spec.additional_trusted_keys ?? {}];
  const a = res.spec.active_keys;
  const out: LoadedCa = {
    type: res.spec.type,
    sshPublicKeys: all.flatMap((s) => (s.ssh ?? []).map((k) => k.public_key)),
    tlsCerts: all.flatMap((s) => (s.tls ?? []).map((k) => k.cert)),
    jwtPublicKeys: all.flatMap((s) => (s.jwt ?? []).map((k) => k.public_key)),
  };
  const ssh = a.ssh?.[0];
  if (ssh?.private_key) out.sshSigner = createPrivateKey(ssh.private_key);
  const tls = a.tls?.[0];
  if (tls?.key) out.tlsSigner = { cert: tls.cert, key: createPrivateKey(tls.key) };
  const jwt = a.jwt?.[0];
  if (jwt?.private_key) out.jwtSigner = createPrivateKey(jwt.private_key);
  return out;
}

/** The resource as clients may see it: no private keys. */
export function publicCa(res: CaResource): CaResource {
  const strip = (s: CaResource["spec"]["active_keys"]) => ({
    ...(s.ssh ? { ssh: s.ssh.map((k) => ({ public_key: k.public_key })) } : {}),
    ...(s.tls ? { tls: s.tls.map((k) => ({ cert: k.cert })) } : {}),
    ...(s.jwt ? { jwt: s.jwt.map((k) => ({ public_key: k.public_key })) } : {}),
  });
  const spec: CaResource["spec"] = { ...res.spec, active_keys: strip(res.spec.active_keys) };
  if (res.spec.additional_trusted_keys) spec.additional_trusted_keys = strip(res.spec.additional_trusted_keys);
  return { ...res, spec };
}

export function caFingerprints(ca: LoadedCa): { ssh: string[]; tls: string[] } {
  return {
    ssh: ca.sshPublicKeys.map((k) => sshFingerprint(k)),
    tls: ca.tlsCerts.map((c) => certFingerprint(c)),
  };
}

/** Owns the cluster's CAs: creates them on first start and keeps them loaded. */
export class Authorities {
  private loaded = new Map<CaType, LoadedCa>();

  constructor(
    private readonly store: ResourceStore<CaResource>,
    private readonly clusterName: string,
    private readonly clock: Clock,
  ) {}

  async init(): Promise<void> {
    for (const type of CA_TYPES) {
      let res = await this.store.find(type);
      if (!res) {
        const fresh = await newCa(type, this.clusterName, this.clock);
        try {
          res = await this.store.create(fresh);
        } catch {
          // Another Auth instance sharing the backend created it first.
          res = await this.store.get(type);
        }
      }
      this.loaded.set(type, loadCa(res));
    }
  }

  get(type: CaType): LoadedCa {
    const ca = this.loaded.get(type);
    if (!ca) throw notFound(`${type} certificate authority is not loaded`);
    return ca;
  }

  async resources(): Promise<CaResource[]> {
    return this.store.list();
  }
}
