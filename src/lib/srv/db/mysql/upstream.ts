/**
 * The connection to the database server: TCP (and TLS when the database is
 * set up for it, through the protocol's SSLRequest), the login as the
 * session's database user, and the server's final OK. Speaks
 * mysql_native_password and caching_sha2_password (fast path, full
 * authentication with the password in the clear over TLS or RSA-encrypted
 * over plaintext), and mysql_clear_password over TLS.
 */
import { constants, createHash, publicEncrypt } from "node:crypto";
import net from "node:net";
import type { Duplex } from "node:stream";
import tls from "node:tls";
import type { DatabaseTarget } from "../engine.ts";
import { MysqlServerError, upstreamFailure } from "./errors.ts";
import { PacketIO } from "./io.ts";
import * as m from "./messages.ts";
import { CAP } from "./messages.ts";

/** Flags whose meaning changes packet formats: the server must accept each one the client negotiated. */
const FORMAT_CAPS = CAP.PROTOCOL_41 | CAP.DEPRECATE_EOF | CAP.SESSION_TRACK | CAP.MULTI_RESULTS | CAP.PS_MULTI_RESULTS;
const LOGIN_MAX_PACKET = 1 << 20;

export interface UpstreamOptions {
  target: DatabaseTarget;
  user: string;
  /** The server account's password; undefined for certificate login. */
  password: string | undefined;
  database: string;
  /** What the client negotiated with us: its flags (already limited to ours), charset, max packet size and attributes. */
  client: Pick<m.HandshakeResponse, "capabilities" | "charset" | "maxPacketSize" | "attributes">;
  credentials?: { cert: string; key: string; cas: string[] };
  timeoutMs: number;
}

export interface Upstream {
  socket: Duplex;
  greeting: m.Greeting;
  /** The payload of the server's OK that ended the login, to pass on to the client. */
  ok: Buffer;
  /** Bytes the server sent after its OK. */
  rest: Buffer;
}

export function splitHostPort(uri: string): { host: string; port: number } {
  const s = uri.replace(/^mysql:\/\//, "").replace(/\/.*$/, "");
  const m6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  const [host, port] = m6 ? [m6[1] ?? "", m6[2]] : [s.replace(/:\d+$/, ""), /:(\d+)$/.exec(s)?.[1]];
  return { host, port: port === undefined ? 3306 : Number(port) };
}

const sha1 = (...b: Buffer[]) => b.reduce((h, x) => h.update(x), createHash("sha1")).digest();
const sha256 = (...b: Buffer[]) => b.reduce((h, x) => h.update(x), createHash("sha256")).digest();
const xor = (a: Buffer, b: Buffer) => Buffer.from(a.map((v, i) => v ^ (b[i % b.length] ?? 0)));

/** mysql_native_password: SHA1(password) XOR SHA1(scramble + SHA1(SHA1(password))). */
export function nativePasswordResponse(password: string, scramble: Buffer): Buffer {
  if (password === "") return Buffer.alloc(0);
  const p1 = sha1(Buffer.from(password, "utf8"));
  return xor(p1, sha1(scramble.subarray(0, 20), sha1(p1)));
}

/** caching_sha2_password fast path: SHA256(password) XOR SHA256(SHA256(SHA256(password)) + scramble). */
export function cachingSha2Response(password: string, scramble: Buffer): Buffer {
  if (password === "") return Buffer.alloc(0);
  const p1 = sha256(Buffer.from(password, "utf8"));
  return xor(p1, sha256(sha256(p1), scramble.subarray(0, 20)));
}

function connectTcp(host: string, port: number, deadline: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port });
    const t = setTimeout(() => s.destroy(new Error("connection timed out")), Math.max(1, deadline - Date.now()));
    s.once("connect", () => {
      clearTimeout(t);
      s.setNoDelay(true);
      resolve(s);
    });
    s.once("error", (e) => {
      clearTimeout(t);
      reject(upstreamFailure(`cannot reach the database server at ${host}:${port}`, e));
    });
  });
}

function startTls(sock: net.Socket, host: string, o: UpstreamOptions, deadline: number): Promise<tls.TLSSocket> {
  const cfg = o.target.tls ?? { mode: "verify-full" as const };
  return new Promise((resolve, reject) => {
    const t = tls.connect({
      socket: sock,
      servername: cfg.serverName ?? (net.isIP(host) ? undefined : host),
      rejectUnauthorized: cfg.mode !== "insecure",
      ...(cfg.mode === "verify-ca" ? { checkServerIdentity: () => undefined } : {}),
      ...(cfg.caCerts?.length ? { ca: cfg.caCerts } : {}),
      ...(o.credentials ? { cert: o.credentials.cert, key: o.credentials.key } : {}),
    });
    const timer = setTimeout(() => t.destroy(new Error("TLS handshake timed out")), Math.max(1, deadline - Date.now()));
    t.once("secureConnect", () => {
      clearTimeout(timer);
      resolve(t);
    });
    t.once("error", (e) => {
      clearTimeout(timer);
      reject(upstreamFailure("TLS to the database server failed", e));
    });
  });
}

function serverError(payload: Buffer): MysqlServerError {
  const e = m.decodeErr(payload);
  return new MysqlServerError(e.errno, e.sqlState, e.message);
}

/** Connects and logs in. Throws MysqlServerError for the server's refusal, a `connection-problem` otherwise. */
export async function connectUpstream(o: UpstreamOptions): Promise<Upstream> {
  const deadline = Date.now() + o.timeoutMs;
  const { host, port } = splitHostPort(o.target.uri);
  const sock = await connectTcp(host, port, deadline);
  try {
    return await login(sock, host, o, deadline);
  } catch (e) {
    sock.destroy();
    throw e;
  }
}

async function login(sock: net.Socket, host: string, o: UpstreamOptions, deadline: number): Promise<Upstream> {
  let io = new PacketIO(sock, "the database server", LOGIN_MAX_PACKET);
  const first = await io.read(deadline);
  if (first.payload[0] === 0xff) throw serverError(first.payload);
  const greeting = m.decodeGreeting(first.payload);
  const server = greeting.capabilities;
  if (!(server & CAP.PROTOCOL_41) || !(server & CAP.SECURE_CONNECTION)) throw upstreamFailure("the database server is too old (no protocol 4.1)");
  const missing = o.client.capabilities & FORMAT_CAPS & ~server;
  if (missing) throw upstreamFailure(`the database server lacks capabilities the client uses (flags 0x${missing.toString(16)})`);

  const useTls = o.target.tls !== undefined || o.target.auth.kind === "cert";
  let caps = (o.client.capabilities & server) | CAP.PROTOCOL_41 | CAP.SECURE_CONNECTION;
  caps &= ~(CAP.SSL | CAP.COMPRESS | CAP.QUERY_ATTRIBUTES | CAP.OPTIONAL_RESULTSET_METADATA | CAP.ZSTD_COMPRESSION);
  caps |= server & (CAP.PLUGIN_AUTH | CAP.PLUGIN_AUTH_LENENC_CLIENT_DATA | CAP.CONNECT_ATTRS);
  if (o.database !== "") caps |= CAP.CONNECT_WITH_DB;
  else caps &= ~CAP.CONNECT_WITH_DB;
  caps >>>= 0;

  let seq = first.seq + 1;
  let secure = false;
  let stream: Duplex = sock;
  if (useTls) {
    if (!(server & CAP.SSL)) throw upstreamFailure("the database server does not offer TLS");
    io.write(seq++, m.encodeSslRequest(caps, o.client.maxPacketSize, o.client.charset));
    const rest = io.detach();
    if (rest.length > 0) throw upstreamFailure("the database server sent data before TLS");
    stream = await startTls(sock, host, o, deadline);
    io = new PacketIO(stream, "the database server", LOGIN_MAX_PACKET);
    secure = true;
    caps |= CAP.SSL;
  }

  const password = o.password ?? "";
  const answer = (plugin: string, scramble: Buffer): Buffer | undefined => {
    if (plugin === m.NATIVE_PASSWORD) return nativePasswordResponse(password, scramble);
    if (plugin === "caching_sha2_password") return cachingSha2Response(password, scramble);
    if (plugin === "mysql_clear_password") {
      if (!secure) throw upstreamFailure("the database server asked for the password in the clear without TLS");
      return Buffer.concat([Buffer.from(password, "utf8"), Buffer.alloc(1)]);
    }
    return undefined;
  };
  let plugin = greeting.authPlugin;
  let scramble = greeting.scramble;
  // Unknown default plugin: answer as mysql_native_password and let the server switch us.
  let initial = answer(plugin, scramble);
  if (initial === undefined) {
    plugin = m.NATIVE_PASSWORD;
    initial = nativePasswordResponse(password, scramble);
  }
  const attributes = new Map(o.client.attributes);
  io.write(
    seq,
    m.encodeHandshakeResponse({
      capabilities: caps,
      mariadbCapabilities: 0,
      maxPacketSize: o.client.maxPacketSize,
      charset: o.client.charset,
      user: o.user,
      authResponse: initial,
      database: o.database,
      authPlugin: plugin,
      attributes,
    }),
  );

  for (;;) {
    const p = await io.read(deadline);
    const head = p.payload[0];
    if (head === 0x00) {
      const rest = io.detach();
      return { socket: stream, greeting, ok: p.payload, rest };
    }
    if (head === 0xff) throw serverError(p.payload);
    if (head === 0xfe) {
      const sw = m.decodeAuthSwitch(p.payload);
      plugin = sw.plugin;
      scramble = sw.data.at(-1) === 0 ? sw.data.subarray(0, -1) : sw.data;
      const a = answer(plugin, scramble);
      if (a === undefined) throw upstreamFailure(`the database server asked for the unsupported authentication plugin "${plugin}"`);
      io.write(p.seq + 1, a);
    } else if (head === 0x01 && plugin === "caching_sha2_password") {
      const more = p.payload.subarray(1);
      if (more.length === 1 && more[0] === 3) continue; // fast authentication succeeded; the OK follows
      if (more.length === 1 && more[0] === 4) {
        // Full authentication: the password itself, in the clear over TLS, else encrypted with the server's RSA key.
        io.write(p.seq + 1, secure ? Buffer.concat([Buffer.from(password, "utf8"), Buffer.alloc(1)]) : Buffer.from([2]));
        continue;
      }
      // The server's public key, which we asked for.
      const clear = xor(Buffer.concat([Buffer.from(password, "utf8"), Buffer.alloc(1)]), scramble);
      let encrypted: Buffer;
      try {
        encrypted = publicEncrypt(
          {
            key: more.toString("latin1"),
            padding: constants.RSA_PKCS1_OAEP_PADDING,
          },
          clear,
        );
      } catch (e) {
        throw upstreamFailure("the database server sent an unusable RSA public key", e);
      }
      io.write(p.seq + 1, encrypted);
    } else {
      throw upstreamFailure(`unexpected packet 0x${(head ?? 0).toString(16)} from the database server during login`);
    }
  }
}
