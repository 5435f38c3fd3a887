/**
 * The client side of SCRAM-SHA-256 (RFC 5802/7677) as PostgreSQL uses it:
 * no channel binding (gs2 header "n,,"), an empty user name in the client's
 * first message (the server takes the user from the startup packet).
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from "node:crypto";
import { PgProtocolError, SQLSTATE } from "./errors.ts";

export const SCRAM_SHA_256 = "SCRAM-SHA-256";
const GS2_HEADER = "n,,";

const fail = (message: string) =>
  new PgProtocolError(message, {
    kind: "connection-problem",
    sqlState: SQLSTATE.invalidAuthorization,
  });

const hmac = (key: Buffer, data: string) => createHmac("sha256", key).update(data, "utf8").digest();

/**
 * PostgreSQL applies SASLprep to the password and uses the raw bytes when
 * that fails. ASCII passwords pass unchanged; for others NFKC is the part of
 * SASLprep that matters in practice.
 */
function normalize(password: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: ASCII range check
  return /^[\x00-\x7f]*$/.test(password) ? password : password.normalize("NFKC");
}

function attributes(message: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of message.split(",")) {
    const eq = part.indexOf("=");
    if (eq !== 1) throw fail("malformed SCRAM message from the database server");
    out.set(part.slice(0, 1), part.slice(2));
  }
  return out;
}

export class ScramClient {
  private readonly nonce: string;
  private readonly clientFirstBare: string;
  private serverSignature: Buffer | undefined;

  constructor(
    private readonly password: string,
    nonce: string = randomBytes(18).toString("base64"),
  ) {
    this.nonce = nonce;
    this.clientFirstBare = `n=,r=${nonce}`;
  }

  /** The client-first-message (SASLInitialResponse data). */
  first(): Buffer {
    return Buffer.from(GS2_HEADER + this.clientFirstBare, "utf8");
  }

  /** Answers the server-first-message with the client-final-message. */
  final(serverFirst: Buffer): Buffer {
    const text = serverFirst.toString("utf8");
    const a = attributes(text);
    const nonce = a.get("r");
    const salt = a.get("s");
    const iterations = Number(a.get("i"));
    if (nonce === undefined || !nonce.startsWith(this.nonce) || nonce.length === this.nonce.length) {
      throw fail("the database server's SCRAM nonce does not extend ours");
    }
    if (salt === undefined || salt === "") throw fail("the database server sent no SCRAM salt");
    if (!Number.isInteger(iterations) || iterations < 1 || iterations > 10_000_000) {
      throw fail("the database server sent an invalid SCRAM iteration count");
    }
    const salted = pbkdf2Sync(normalize(this.password), Buffer.from(salt, "base64"), iterations, 32, "sha256");
    const clientKey = hmac(salted, "Client Key");
    const storedKey = createHash("sha256").update(clientKey).digest();
    const withoutProof = `c=${Buffer.from(GS2_HEADER).toString("base64")},r=${nonce}`;
    const authMessage = `${this.clientFirstBare},${text},${withoutProof}`;
    const signature = hmac(storedKey, authMessage);
    const proof = Buffer.alloc(clientKey.length);
    for (let i = 0; i < proof.length; i++) proof[i] = (clientKey[i] ?? 0) ^ (signature[i] ?? 0);
    this.serverSignature = hmac(hmac(salted, "Server Key"), authMessage);
    return Buffer.from(`${withoutProof},p=${proof.toString("base64")}`, "utf8");
  }

  /** Checks the server-final-message: the server proves it knows the password too. */
  verify(serverFinal: Buffer): void {
    const a = attributes(serverFinal.toString("utf8"));
    const err = a.get("e");
    if (err !== undefined) throw fail(`SCRAM authentication failed: ${err}`);
    const v = Buffer.from(a.get("v") ?? "", "base64");
    const expected = this.serverSignature;
    if (expected === undefined || v.length !== expected.length || !timingSafeEqual(v, expected)) {
      throw fail("the database server's SCRAM signature is wrong");
    }
  }
}
