import assert from "node:assert/strict";
import { test } from "node:test";
import { BackendReader } from "./codec.ts";
import { PgProtocolError } from "./errors.ts";
import { decodeAuthentication } from "./messages.ts";
import { PASSWORD } from "./pgcluster.test-helpers.ts";
import { ScramClient } from "./scram.ts";
import { fixture } from "./testdata.test-helpers.ts";

/** psql's SCRAM exchange with PostgreSQL 15 for scram_user (password PASSWORD), captured. */
function captured() {
  const client = fixture("server-scram.0.client").map((c) => c.toString("latin1"));
  const nonce = /r=([^,\0]+)/.exec(client[1] ?? "")?.[1] ?? "";
  const final = /c=biws,r=[^,]+,p=[A-Za-z0-9+/=]+/.exec(client[2] ?? "")?.[0] ?? "";
  const server = new BackendReader().feed(Buffer.concat(fixture("server-scram.0.server"))).flatMap((m) => {
    const a = m.type === "R" ? decodeAuthentication(m.body) : undefined;
    return a?.kind === "sasl-continue" || a?.kind === "sasl-final" ? [a.data] : [];
  });
  const [serverFirst, serverFinal] = server;
  assert.ok(nonce && final && serverFirst && serverFinal);
  return { nonce, final, serverFirst, serverFinal };
}

test("SCRAM client reproduces psql's proof and checks the server's signature", () => {
  const c = captured();
  const scram = new ScramClient(PASSWORD, c.nonce);
  assert.equal(scram.first().toString(), `n,,n=,r=${c.nonce}`);
  assert.equal(scram.final(c.serverFirst).toString(), c.final);
  scram.verify(c.serverFinal);
});

test("SCRAM client refuses a wrong server signature, a foreign nonce and server errors", () => {
  const c = captured();
  const wrong = new ScramClient("not the password", c.nonce);
  wrong.final(c.serverFirst);
  assert.throws(() => wrong.verify(c.serverFinal), PgProtocolError);
  assert.throws(() => new ScramClient(PASSWORD, "other-nonce").final(c.serverFirst), PgProtocolError);
  assert.throws(() => new ScramClient(PASSWORD, c.nonce).final(Buffer.from(`r=${c.nonce}x,s=,i=1`)), PgProtocolError);
  assert.throws(() => new ScramClient(PASSWORD, c.nonce).final(Buffer.from(`r=${c.nonce}x,s=AAAA,i=0`)), PgProtocolError);
  const s = new ScramClient(PASSWORD, c.nonce);
  s.final(c.serverFirst);
  assert.throws(() => s.verify(Buffer.from("e=invalid-proof")), /invalid-proof/);
});
