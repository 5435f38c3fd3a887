/**
 * The reverse tunnel's dial channel: the wire contract between an agent
 * (`lib/tunnel`) and the proxy (`lib/proxy/reversetunnel`), kept here so that
 * neither imports the other (DESIGN §5, §7).
 *
 * DESIGN names the channel `jumpgate-dial`. The ssh2 *client* (the agent)
 * rejects every channel type it does not know, so the dial channel rides on the
 * standard `forwarded-tcpip` mechanism instead:
 *
 * 1. after logging in, the agent sends the global request `tcpip-forward` with
 *    bind address `jumpgate-dial` and port {@link DIAL_BIND_PORT}; the proxy
 *    treats the agent as connected only once it has accepted that request;
 * 2. for each user connection the proxy opens a `forwarded-tcpip` channel whose
 *    "address that was connected" is `jumpgate-dial` (so the agent knows it is a
 *    dial, and ssh2 routes it to the forwarding registered in step 1), whose
 *    "originator IP address" carries the dial request as JSON
 *    ({@link encodeDialRequest}) and whose "originator port" is 0.
 */
import { badParameter } from "./errors.ts";

/** The bind address that names the dial channel. */
export const DIAL_BIND_ADDR = "jumpgate-dial";
/** The bind port of the dial forwarding; it carries no meaning but must match on both sides. */
export const DIAL_BIND_PORT = 1;
/** The largest encoded dial request either side accepts. */
export const MAX_DIAL_REQUEST_BYTES = 4096;

export interface DialRequest {
  /** Who the user connection came from, `host:port`. */
  clientAddr: string;
  /** What the user asked for, e.g. `web-1:22`; informational for the agent. */
  target?: string;
}

export function encodeDialRequest(req: DialRequest): string {
  const text = JSON.stringify({ v: 1, client: req.clientAddr, ...(req.target === undefined ? {} : { target: req.target }) });
  if (Buffer.byteLength(text) > MAX_DIAL_REQUEST_BYTES) throw badParameter("dial request too large");
  return text;
}

/** Parses what {@link encodeDialRequest} wrote; throws `bad-parameter` on anything else. Unknown fields are ignored. */
export function decodeDialRequest(text: string): DialRequest {
  if (Buffer.byteLength(text) > MAX_DIAL_REQUEST_BYTES) throw badParameter("dial request too large");
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw badParameter("malformed dial request");
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw badParameter("malformed dial request");
  const o = v as Record<string, unknown>;
  if (o.v !== 1) throw badParameter("unsupported dial request version");
  if (typeof o.client !== "string") throw badParameter("dial request without a client address");
  if (o.target !== undefined && typeof o.target !== "string") throw badParameter("malformed dial request target");
  return o.target === undefined ? { clientAddr: o.client } : { clientAddr: o.client, target: o.target };
}
