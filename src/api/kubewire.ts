/**
 * Kubernetes access on the wire, shared by the proxy (`lib/proxy/kubeproxy`),
 * the Kubernetes Service (`lib/srv/kube`, `lib/service/kube-part.ts`) and
 * `jsh kube` (`lib/client`), so that none of them imports another (DESIGN §7):
 *
 * - `kubectl` reaches the proxy's one port with TLS and the server name
 *   `kube.<proxy host>` (`kubeSni`); the proxy reads that name from the
 *   ClientHello and, for it alone, asks for a client certificate: the user's
 *   certificate from `jsh kube login`, whose identity names the cluster
 *   (`kubernetesCluster`). ALPN `jumpgate-kube` is the same route for clients
 *   that can set it.
 * - the **stream header** the proxy sends first on every reverse-tunnel stream
 *   it opens to a Kubernetes Service (dial target `kube:CLUSTER`): `"JGKB"`, a
 *   big-endian uint32 length, then UTF-8 JSON
 *   `{"v":1,"cert":PEM,"clientAddr":"IP:PORT","cluster":NAME}`. `cert` is the
 *   chain kubectl presented, leaf first; the service verifies it itself against
 *   the user CA. After the header come kubectl's bytes as they are (HTTP/1.1,
 *   keep-alive, upgrades for exec/attach/port-forward).
 */
import { decodeStreamHeader, encodeStreamHeader, type HeaderKind, type HeaderParse } from "./streamheader.ts";

export const KUBE_HEADER_MAGIC = Buffer.from("JGKB", "latin1");
export const MAX_KUBE_HEADER_BYTES = 64 * 1024;
export const KUBE_DIAL_PREFIX = "kube:";
export const KUBE_ALPN = "jumpgate-kube";
/** The first label of the server name kubectl uses for the proxy: `kube.<proxy host>`. */
export const KUBE_SNI_LABEL = "kube";

export function kubeSni(proxyHost: string): string {
  return `${KUBE_SNI_LABEL}.${proxyHost.replace(/:\d+$/, "")}`;
}

export type KubeConnHeader = {
  /** PEM certificates kubectl presented, leaf first. */
  cert: string;
  /** kubectl's address as the proxy saw it. */
  clientAddr: string;
  /** The kube_cluster the proxy routed to (the certificate's kubernetesCluster). */
  cluster: string;
};

const KUBE_HEADER: HeaderKind<KubeConnHeader> = {
  magic: KUBE_HEADER_MAGIC,
  maxBytes: MAX_KUBE_HEADER_BYTES,
  label: "kube stream header",
  fields: ["cert", "clientAddr", "cluster"],
};

export function encodeKubeHeader(h: KubeConnHeader): Buffer {
  return encodeStreamHeader(KUBE_HEADER, h);
}

export type KubeHeaderParse = HeaderParse<KubeConnHeader>;

/** Pure: reads a header from the start of `buf`. Throws `bad-parameter` on anything malformed. */
export function decodeKubeHeader(buf: Buffer): KubeHeaderParse {
  return decodeStreamHeader(KUBE_HEADER, buf);
}
