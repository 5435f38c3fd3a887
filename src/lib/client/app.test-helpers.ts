/** Certificates for the app tests: a user CA, a host CA, app certificates and a proxy's host certificate. */
import type { KeyObject } from "node:crypto";
import { FakeClock } from "../../api/clock.ts";
import {
  type CertificateAuthority,
  createCa,
  generateEcdsaP256,
  type Identity,
  issueClientCertificate,
  issueServerCertificate,
  type RouteToApp,
} from "../crypto/index.ts";

export interface TestCas {
  user: CertificateAuthority;
  host: CertificateAuthority;
}

export async function testCas(): Promise<TestCas> {
  const clock = new FakeClock(new Date());
  return {
    user: await createCa({ commonName: "unit.test", organization: "unit.test user CA", clock }),
    host: await createCa({ commonName: "unit.test", organization: "unit.test host CA", clock }),
  };
}

function identity(o: Partial<Identity>): Identity {
  return {
    kind: "user",
    username: "alice",
    roles: ["access"],
    logins: ["alice"],
    traits: {},
    kubernetesGroups: [],
    kubernetesUsers: [],
    activeRequests: [],
    expires: new Date(0),
    systemRoles: [],
    clusterName: "unit.test",
    ...o,
  };
}

export interface Leaf {
  cert: string;
  key: string;
  keyObject: KeyObject;
}

/** A user certificate with a route to `app` (none when `route` is null), issued `issuedAgoMs` ago. */
export async function appUserCert(
  ca: CertificateAuthority,
  app: string,
  o: { publicKey?: KeyObject; ttlMs?: number; issuedAgoMs?: number; route?: Partial<RouteToApp> | null } = {},
): Promise<Leaf> {
  const pair = generateEcdsaP256();
  const route: RouteToApp = { name: app, publicAddr: `${app}.proxy.example.com`, clusterName: "unit.test", sessionId: "s-1", ...(o.route ?? {}) };
  const cert = await issueClientCertificate({
    caCert: ca.certPem,
    caKey: ca.privateKey,
    publicKey: o.publicKey ?? pair.publicKey,
    identity: identity(o.route === null ? {} : { routeToApp: route }),
    ttlMs: o.ttlMs ?? 3600_000,
    clock: new FakeClock(new Date(Date.now() - (o.issuedAgoMs ?? 0))),
  });
  return { cert, key: pair.privateKey.export({ format: "pem", type: "pkcs8" }).toString(), keyObject: pair.privateKey };
}

/** A host certificate of a proxy (system role `proxy`), or of a plain node. */
export async function hostCert(ca: CertificateAuthority, systemRoles: string[] = ["proxy"]): Promise<Leaf> {
  const pair = generateEcdsaP256();
  const hostId = "0c1d2e3f-4a5b-6c7d-8e9f-a0b1c2d3e4f5";
  const cert = await issueServerCertificate({
    caCert: ca.certPem,
    caKey: ca.privateKey,
    publicKey: pair.publicKey,
    commonName: hostId,
    dnsNames: ["localhost"],
    ipAddresses: ["127.0.0.1"],
    identity: identity({ kind: "host", username: hostId, hostId, roles: [], logins: [], systemRoles }),
    ttlMs: 3600_000,
    clock: new FakeClock(new Date()),
  });
  return { cert, key: pair.privateKey.export({ format: "pem", type: "pkcs8" }).toString(), keyObject: pair.privateKey };
}
