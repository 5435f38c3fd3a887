/**
 * The connection to the real server: TCP (no delay), TLS through an
 * SSLRequest when the database is configured for it (with the db-CA client
 * certificate for cert login), the StartupMessage, and the server's login
 * (cleartext, MD5 or SCRAM-SHA-256) done here with the service's credentials,
 * up to the server's first ReadyForQuery.
 */
import { createHash } from "node:crypto";
import net from "node:net";
import tls from "node:tls";
import type { DatabaseTarget } from "../engine.ts";
import type { UpstreamKey } from "./cancel.ts";
import { BackendReader, type PgMessage } from "./codec.ts";
import { malformed, PgServerError, upstreamFailure } from "./errors.ts";
import * as msg from "./messages.ts";
import { Pump } from "./pump.ts";
import { SCRAM_SHA_256, ScramClient } from "./scram.ts";

export type Credentials = { cert: string; key: string; cas: string[] };

export interface UpstreamOptions {
  target: DatabaseTarget;
  /** Parameters of the StartupMessage (user, database and the client's forwarded ones). */
  params: ReadonlyMap<string, string>;
  /** The db-CA client certificate, for cert login. */
  credentials?: Credentials;
  timeoutMs: number;
}

export interface Upstream {
  socket: net.Socket;
  /** ParameterStatus and NoticeResponse messages of the server's startup, encoded, in order. */
  startup: Buffer[];
  key: UpstreamKey | undefined;
  status: "I" | "T" | "E";
  /** Bytes the server sent after its ReadyForQuery (normally none). */
  rest: Buffer;
}

/** "host:port" (or "[v6]:port"), port 5432 when absent. */
export function parseUri(uri: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(uri) ?? /^([^:]+)(?::(\d+))?$/.exec(uri.replace(/^postgres(ql)?:\/\//, ""));
  const port = Number(m?.[2] ?? 5432);
  if (!m?.[1] || !Number.isInteger(port) || port < 1 || port > 65535) throw upstreamFailure(`invalid database address "${uri}"`);
  return { host: m[1], port };
}

const upstreamPump = (socket: net.Socket, timeoutMs: number) =>
  new Pump(
    socket,
    timeoutMs,
    (e) => upstreamFailure("the database server closed the connection during login", e),
    () => upstreamFailure("the database server did not answer in time"),
  );

function dial(host: string, port: number): net.Socket {
  const s = net.connect({ host, port, noDelay: true });
  s.setNoDelay(true);
  s.setKeepAlive(true, 60_000);
  return s;
}

/** SSLRequest, the server's one-byte answer, then the TLS handshake. */
async function startTls(raw: net.Socket, target: DatabaseTarget, host: string, creds: Credentials | undefined, timeoutMs: number) {
  const cfg = target.tls;
  if (cfg === undefined) return raw;
  const pump = upstreamPump(raw, timeoutMs);
  raw.write(msg.sslRequest());
  let answer: Buffer;
  try {
    answer = await pump.chunk();
  } finally {
    pump.detach();
  }
  // Bytes after the answer would have been sent before the handshake: refuse them.
  if (answer.length !== 1) throw upstreamFailure("the database server sent unexpected bytes after its SSL answer");
  if (answer[0] !== 0x53) throw upstreamFailure(`database "${target.name}" is set up for TLS but its server does not accept TLS`);
  const name = cfg.serverName ?? host;
  const ca = cfg.caCerts ?? creds?.cas;
  const socket = tls.connect({
    socket: raw,
    ...(net.isIP(name) ? {} : { servername: name }),
    ...(ca === undefined || ca.length === 0 ? {} : { ca }),
    ...(creds === undefined ? {} : { cert: creds.cert, key: creds.key }),
    rejectUnauthorized: cfg.mode !== "insecure",
    checkServerIdentity: (_h, cert) => (cfg.mode === "verify-full" ? tls.checkServerIdentity(name, cert) : undefined),
  });
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(upstreamFailure("TLS handshake with the database server timed out")), timeoutMs);
    socket.once("secureConnect", () => {
      clearTimeout(t);
      resolve();
    });
    socket.once("error", (e) => {
      clearTimeout(t);
      reject(upstreamFailure(`TLS with the database server failed: ${e.message}`, e));
    });
  });
  socket.setNoDelay(true);
  return socket;
}

async function open(target: DatabaseTarget, creds: Credentials | undefined, timeoutMs: number): Promise<net.Socket> {
  const { host, port } = parseUri(target.uri);
  const raw = dial(host, port);
  try {
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(upstreamFailure("connecting to the database server timed out")), timeoutMs);
      raw.once("connect", () => {
        clearTimeout(t);
        resolve();
      });
      raw.once("error", (e) => {
        clearTimeout(t);
        reject(upstreamFailure(`cannot connect to the database server: ${e.message}`, e));
      });
    });
    return await startTls(raw, target, host, creds, timeoutMs);
  } catch (e) {
    raw.destroy();
    throw e;
  }
}

function md5Password(password: string, user: string, salt: Buffer): string {
  const inner = createHash("md5")
    .update(password + user)
    .digest("hex");
  return `md5${createHash("md5").update(inner).update(salt).digest("hex")}`;
}

/** Connects and logs in; throws PgServerError with the server's fields when the server refuses. */
export async function connectUpstream(o: UpstreamOptions): Promise<Upstream> {
  const socket = await open(o.target, o.credentials, o.timeoutMs);
  const pump = upstreamPump(socket, o.timeoutMs);
  const reader = new BackendReader();
  const auth = o.target.auth;
  const password = () => {
    if (auth.kind === "password") return auth.password;
    throw upstreamFailure(`the database server asked for a password, but database "${o.target.name}" is set up for certificate login`);
  };
  try {
    socket.write(msg.startupMessage(o.params));
    const startup: Buffer[] = [];
    let key: UpstreamKey | undefined;
    let scram: ScramClient | undefined;
    let scramDone = false;
    for (;;) {
      for (const m of reader.feed(await pump.chunk())) {
        const status = handle(m);
        if (status !== undefined)
          return {
            socket,
            startup,
            key,
            status,
            rest: Buffer.concat([reader.rest(), pump.detach()]),
          };
      }
    }
    function handle(m: PgMessage): "I" | "T" | "E" | undefined {
      switch (m.type) {
        case "R": {
          const a = msg.decodeAuthentication(m.body);
          if (a.kind === "ok") {
            if (scram !== undefined && !scramDone) throw upstreamFailure("the database server skipped the end of SCRAM login");
          } else if (a.kind === "cleartext") socket.write(msg.passwordMessage(password()));
          else if (a.kind === "md5") socket.write(msg.passwordMessage(md5Password(password(), o.params.get("user") ?? "", a.salt)));
          else if (a.kind === "sasl") {
            if (!a.mechanisms.includes(SCRAM_SHA_256)) throw upstreamFailure(`unsupported SASL mechanisms: ${a.mechanisms.join(", ")}`);
            scram = new ScramClient(password());
            socket.write(msg.saslInitialResponse(SCRAM_SHA_256, scram.first()));
          } else if (a.kind === "sasl-continue" && scram !== undefined) socket.write(msg.saslResponse(scram.final(a.data)));
          else if (a.kind === "sasl-final" && scram !== undefined) {
            scram.verify(a.data);
            scramDone = true;
          } else throw upstreamFailure(`unsupported authentication request from the database server (${a.kind === "other" ? a.code : a.kind})`);
          return undefined;
        }
        case "E":
          throw new PgServerError(msg.decodeFields(m.body));
        case "S":
        case "N":
          startup.push(msg.message(m.type, m.body));
          return undefined;
        case "K":
          key = msg.decodeBackendKeyData(m.body);
          return undefined;
        case "v":
          return undefined;
        case "Z":
          return msg.decodeReadyForQuery(m.body);
        default:
          throw malformed(`unexpected message "${m.type}" from the database server during login`);
      }
    }
  } catch (e) {
    pump.detach();
    socket.destroy();
    throw e;
  }
}

/** Opens a connection to the server just to send it a CancelRequest for `key`. */
export async function sendCancel(target: DatabaseTarget, key: UpstreamKey, creds: Credentials | undefined, timeoutMs: number): Promise<void> {
  const socket = await open(target, creds, timeoutMs);
  await new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(t);
      socket.destroy();
      resolve();
    };
    const t = setTimeout(done, timeoutMs);
    socket.on("close", done).on("error", done).on("end", done);
    socket.resume();
    socket.write(msg.cancelRequest(key.pid, key.secret));
  });
}
