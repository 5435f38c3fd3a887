/**
 * One authenticated stream through the proxy's one port, as `jsh proxy db
 * --tunnel` and `jsh proxy app` open it: TLS to the proxy with an ALPN route,
 * then a second TLS inside it with the user's route certificate (database or
 * app) as client certificate, trusting only the cluster's host CA and a
 * server whose certificate is a host certificate of a Jumpgate proxy.
 */
import net from "node:net";
import tls from "node:tls";
import { badParameter } from "../../api/errors.ts";
import { decodeIdentity } from "../crypto/index.ts";
import type { Profile } from "./profile.ts";

/** A route certificate (PEM), its key, and the host CA certificates that verify the proxy. */
export interface RouteCredentials {
  cert: string;
  key: string;
  hostCas: string[];
}

export function splitHostPort(addr: string): { host: string; port: number } {
  const i = addr.lastIndexOf(":");
  const host = addr.slice(0, i).replace(/^\[|\]$/g, "");
  const port = Number(addr.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port) || port <= 0 || port > 65535) throw badParameter(`"${addr}" is not a HOST:PORT address`);
  return { host, port };
}

/** The proxy certificates (DER, base64) already found to carry a proxy's host identity. */
const knownProxyCerts = new Set<string>();

/** The proxy's certificate inside must be a host certificate of this cluster's proxy, whatever address we dialled. */
function checkProxyIdentity(_host: string, cert: tls.PeerCertificate): Error | undefined {
  // The chain itself was verified by TLS against the host CA; only the decoding is remembered.
  const key = cert.raw.toString("base64");
  if (knownProxyCerts.has(key)) return undefined;
  try {
    const id = decodeIdentity(cert.raw);
    if (id.kind === "host" && id.systemRoles.includes("proxy")) {
      if (knownProxyCerts.size >= 64) knownProxyCerts.clear();
      knownProxyCerts.add(key);
      return undefined;
    }
    return new Error("the server inside the route is not a Jumpgate proxy");
  } catch (e) {
    return e instanceof Error ? e : new Error(String(e));
  }
}

/**
 * What one local proxy reuses from connection to connection: the inner TLS
 * context (certificate, key, host CAs) and the last TLS session of each layer,
 * so later connections resume instead of running two full handshakes. The
 * proxy still checks the certificate of a resumed session (it is in the
 * session) for expiry, locks and route on every connection.
 */
export interface DialReuse {
  creds: RouteCredentials | undefined;
  outer: { key: string; context: tls.SecureContext } | undefined;
  innerContext: tls.SecureContext | undefined;
  outerSession: Buffer | undefined;
  innerSession: Buffer | undefined;
}

export function newDialReuse(): DialReuse {
  return { creds: undefined, outer: undefined, innerContext: undefined, outerSession: undefined, innerSession: undefined };
}

function outerContextFor(r: DialReuse, cas: string[] | undefined): tls.SecureContext {
  const key = cas ? cas.join("\n") : "";
  if (r.outer?.key !== key) {
    // Without CAs: the system's (the proxy's public certificate).
    r.outer = { key, context: tls.createSecureContext(cas ? { ca: cas } : {}) };
    r.outerSession = undefined;
  }
  return r.outer.context;
}

function innerContextFor(r: DialReuse, c: RouteCredentials): tls.SecureContext {
  const same = r.creds !== undefined && r.creds.cert === c.cert && r.creds.key === c.key && r.creds.hostCas.join("\n") === c.hostCas.join("\n");
  if (!same || r.innerContext === undefined) {
    // New credentials (a new login): nothing from the old ones is reused.
    r.creds = { cert: c.cert, key: c.key, hostCas: [...c.hostCas] };
    r.innerContext = tls.createSecureContext({ cert: c.cert, key: c.key, ca: c.hostCas });
    r.innerSession = undefined;
  }
  return r.innerContext;
}

export interface ProxyRouteDial {
  profile: Pick<Profile, "proxy" | "insecure">;
  /** The ALPN protocol that picks the route on the proxy's port. */
  alpn: string;
  /** The inner TLS's server name: names the database or app meant (the proxy refuses a certificate for another). */
  servername: string;
  credentials: RouteCredentials;
  /** CAs for the proxy's public certificate when it is not publicly trusted. */
  proxyCas?: string[] | undefined;
}

/** Opens TLS to the proxy on an ALPN route, then TLS inside with the route certificate; resolves once both handshakes are done. */
export function dialProxyRoute(o: ProxyRouteDial, reuse: DialReuse = newDialReuse()): Promise<tls.TLSSocket> {
  const { host, port } = splitHostPort(o.profile.proxy);
  const innerContext = innerContextFor(reuse, o.credentials);
  return new Promise((resolve, reject) => {
    const outer = tls.connect({
      host,
      port,
      ...(net.isIP(host) ? {} : { servername: host }),
      ALPNProtocols: [o.alpn],
      ...(o.profile.insecure ? { rejectUnauthorized: false } : {}),
      secureContext: outerContextFor(reuse, o.profile.insecure ? undefined : o.proxyCas),
      ...(reuse.outerSession ? { session: reuse.outerSession } : {}),
    });
    outer.on("session", (session: Buffer) => {
      reuse.outerSession = session;
    });
    outer.setNoDelay(true);
    const fail = (e: Error) => {
      outer.destroy();
      reject(e);
    };
    outer.once("error", fail);
    outer.once("secureConnect", () => {
      const inner = tls.connect({
        socket: outer,
        servername: o.servername,
        secureContext: innerContext,
        checkServerIdentity: checkProxyIdentity,
        ...(reuse.innerSession && reuse.innerContext === innerContext ? { session: reuse.innerSession } : {}),
      });
      inner.on("session", (session: Buffer) => {
        if (reuse.innerContext === innerContext) reuse.innerSession = session;
      });
      inner.once("error", fail);
      inner.once("secureConnect", () => {
        outer.off("error", fail);
        inner.off("error", fail);
        outer.on("error", () => inner.destroy());
        resolve(inner);
      });
    });
  });
}
