import { classifyPgPreStartup } from "../../../api/dbwire.ts";

/** What the proxy does with the bytes a Postgres client sent before TLS. */
export type PgPreTlsStep =
  | { action: "need-more" }
  /** GSSENCRequest: answer `N`; the client goes on in the clear (SSLRequest or StartupMessage next). */
  | { action: "no-gssenc"; consumed: number }
  /** SSLRequest: answer `S`, then run TLS on the socket. */
  | { action: "tls"; consumed: number }
  /** A StartupMessage in the clear, or anything we cannot serve: answer with an ErrorResponse and close. */
  | { action: "refuse"; message: string }
  /** A CancelRequest in the clear: nothing to answer (libpq ignores the reply); close. */
  | { action: "close" };

export const PLAINTEXT_REFUSAL =
  "Jumpgate accepts database connections only over TLS with a client certificate: run `jsh db connect NAME`, or point psql at `jsh proxy db NAME --tunnel`";

/** Pure: the next step for the bytes received so far on a fresh Postgres connection to the proxy. */
export function pgPreTlsStep(buf: Buffer): PgPreTlsStep {
  const c = classifyPgPreStartup(buf);
  switch (c.kind) {
    case "need-more":
      return { action: "need-more" };
    case "gssenc":
      return { action: "no-gssenc", consumed: 8 };
    case "ssl":
      return { action: "tls", consumed: 8 };
    case "cancel":
      return { action: "close" };
    case "startup":
      return { action: "refuse", message: PLAINTEXT_REFUSAL };
    case "invalid":
      return { action: "refuse", message: `invalid startup packet: ${c.reason}` };
  }
}
