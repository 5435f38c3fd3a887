/**
 * Reads the server name (SNI) and ALPN list from a TLS ClientHello before the
 * handshake runs, so the port multiplexer can hand some names (the Kubernetes
 * route, `kube.<proxy host>`) to a TLS server that asks for a client
 * certificate, while browsers on every other name are never asked for one.
 * Pure: bytes in, answer out; never touches a socket (RFC 8446 §4.1.2, RFC 6066
 * §3, RFC 7301 §3.1).
 */

export type ClientHelloParse = { kind: "need-more" } | { kind: "ok"; serverName?: string; alpn: string[] } | { kind: "invalid"; reason: string };

/** The largest ClientHello we wait for (one full record plus change; real ones are < 2 KiB, post-quantum ~1.8 KiB). */
export const MAX_CLIENT_HELLO_BYTES = 32 * 1024;

const RECORD_HANDSHAKE = 0x16;
const HANDSHAKE_CLIENT_HELLO = 1;
const EXT_SERVER_NAME = 0;
const EXT_ALPN = 16;

class Short extends Error {}

/** A bounds-checked reader over one buffer: running past its end throws `Short`. */
class Reader {
  constructor(
    private readonly b: Buffer,
    public pos = 0,
  ) {}
  u8(): number {
    if (this.pos + 1 > this.b.length) throw new Short();
    return this.b[this.pos++] as number;
  }
  u16(): number {
    if (this.pos + 2 > this.b.length) throw new Short();
    const v = this.b.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  u24(): number {
    return (this.u8() << 16) | this.u16();
  }
  take(n: number): Buffer {
    if (this.pos + n > this.b.length) throw new Short();
    const v = this.b.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }
  get left(): number {
    return this.b.length - this.pos;
  }
}

/** The handshake bytes carried by the leading handshake records of `buf` (a ClientHello may span records). */
function handshakeBytes(buf: Buffer): { bytes: Buffer } | { invalid: string } {
  const parts: Buffer[] = [];
  let pos = 0;
  while (pos + 5 <= buf.length) {
    if (buf[pos] !== RECORD_HANDSHAKE) return { invalid: "not a TLS handshake record" };
    const len = buf.readUInt16BE(pos + 3);
    if (len === 0 || len > 16384 + 2048) return { invalid: "bad TLS record length" };
    if (pos + 5 + len > buf.length) break;
    parts.push(buf.subarray(pos + 5, pos + 5 + len));
    pos += 5 + len;
  }
  return { bytes: Buffer.concat(parts) };
}

/** Pure: parses the ClientHello at the start of `buf`. */
export function parseClientHello(buf: Buffer): ClientHelloParse {
  if (buf.length > 0 && buf[0] !== RECORD_HANDSHAKE) return { kind: "invalid", reason: "not a TLS handshake record" };
  const hs = handshakeBytes(buf);
  if ("invalid" in hs) return { kind: "invalid", reason: hs.invalid };
  const r = new Reader(hs.bytes);
  try {
    if (r.u8() !== HANDSHAKE_CLIENT_HELLO) return { kind: "invalid", reason: "the first handshake message is not a ClientHello" };
    const len = r.u24();
    if (len > MAX_CLIENT_HELLO_BYTES) return { kind: "invalid", reason: "ClientHello too large" };
    if (r.left < len) return buf.length >= MAX_CLIENT_HELLO_BYTES + 64 ? { kind: "invalid", reason: "ClientHello too large" } : { kind: "need-more" };
    return parseBody(new Reader(r.take(len)));
  } catch (e) {
    if (e instanceof Short) return buf.length >= MAX_CLIENT_HELLO_BYTES + 64 ? { kind: "invalid", reason: "ClientHello too large" } : { kind: "need-more" };
    throw e;
  }
}

function parseBody(r: Reader): ClientHelloParse {
  try {
    r.take(2 + 32); // legacy_version, random
    r.take(r.u8()); // legacy_session_id
    const suites = r.u16();
    if (suites === 0 || suites % 2 !== 0) return { kind: "invalid", reason: "bad cipher suite list" };
    r.take(suites);
    r.take(r.u8()); // legacy_compression_methods
    const out: { kind: "ok"; serverName?: string; alpn: string[] } = { kind: "ok", alpn: [] };
    if (r.left === 0) return out; // no extensions at all (old clients)
    const ext = new Reader(r.take(r.u16()));
    const seen = new Set<number>();
    while (ext.left > 0) {
      const type = ext.u16();
      const data = new Reader(ext.take(ext.u16()));
      if (seen.has(type)) return { kind: "invalid", reason: `duplicate TLS extension ${type}` };
      seen.add(type);
      if (type === EXT_SERVER_NAME) {
        const list = new Reader(data.take(data.u16()));
        while (list.left > 0) {
          const nameType = list.u8();
          const name = list.take(list.u16());
          if (nameType !== 0) continue;
          if (out.serverName !== undefined) return { kind: "invalid", reason: "two host names in SNI" };
          const host = name.toString("latin1");
          if (!/^[A-Za-z0-9._-]{1,253}$/.test(host)) return { kind: "invalid", reason: "bad SNI host name" };
          out.serverName = host.toLowerCase();
        }
      } else if (type === EXT_ALPN) {
        const list = new Reader(data.take(data.u16()));
        while (list.left > 0) {
          const n = list.u8();
          if (n === 0) return { kind: "invalid", reason: "empty ALPN protocol name" };
          out.alpn.push(list.take(n).toString("latin1"));
        }
      }
    }
    return out;
  } catch (e) {
    // Inside a complete ClientHello, running short means its own lengths lie.
    if (e instanceof Short) return { kind: "invalid", reason: "malformed ClientHello" };
    throw e;
  }
}
