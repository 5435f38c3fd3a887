/**
 * Random and mutated bytes through every parser of the MySQL engine: each
 * either succeeds or throws a typed JumpgateError, and the whole run stays
 * within a time bound (no hang on partial or hostile input). Seeded, so a
 * failure reproduces.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { isJumpgateError } from "../../../../api/errors.ts";
import { SessionTracker } from "./audit.ts";
import { ClientFramer, type MysqlPacket, PacketScanner } from "./codec.ts";
import { decodeLongData, decodePrepareOk, decodeStmtExecute, statementId, TYPE } from "./commands.ts";
import * as m from "./messages.ts";

const ROUNDS = 12_000;

/** xorshift32: small, seeded, good enough to pick bytes. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

function seeds(): Buffer[] {
  const dir = join(import.meta.dirname, "testdata");
  const out: Buffer[] = [];
  for (const name of ["mysql-cli", "mysql2-prepared", "ssl-request"]) {
    for (const d of ["client", "server"]) {
      const s = new PacketScanner({ maxPacketBytes: 1 << 24 });
      const lines = readFileSync(join(dir, `${name}.${d}.hex`), "utf8")
        .trim()
        .split("\n");
      for (const l of lines) for (const p of s.push(Buffer.from(l, "hex"))) out.push(p.payload);
    }
  }
  return out;
}

function typedOnly(what: string, f: () => unknown): void {
  try {
    f();
  } catch (e) {
    if (!isJumpgateError(e)) assert.fail(`${what} threw an untyped error: ${e instanceof Error ? e.stack : String(e)}`);
  }
}

test(`fuzz: ${ROUNDS} random and mutated packets give results or typed errors, never hangs`, () => {
  const next = rng(0x6a756d70);
  const corpus = seeds();
  const started = Date.now();
  const types = [TYPE.TINY, TYPE.LONGLONG, TYPE.DOUBLE, TYPE.DATETIME, TYPE.TIME, TYPE.BLOB, TYPE.NEWDECIMAL].map((type) => ({ type, unsigned: false }));
  for (let i = 0; i < ROUNDS; i++) {
    let b: Buffer;
    if (i % 2 === 0) {
      b = Buffer.alloc(next() % 96);
      for (let j = 0; j < b.length; j++) b[j] = next() & 0xff;
    } else {
      const base = corpus[next() % corpus.length] ?? Buffer.alloc(0);
      b = Buffer.from(base);
      const edits = 1 + (next() % 4);
      for (let k = 0; k < edits && b.length > 0; k++) {
        const op = next() % 3;
        const at = next() % b.length;
        if (op === 0) b[at] = next() & 0xff;
        else if (op === 1) b = b.subarray(0, at);
        else b = Buffer.concat([b.subarray(0, at), Buffer.from([next() & 0xff, 0xfe, 0xff]), b.subarray(at)]);
      }
    }
    typedOnly("decodeClientLogin", () => m.decodeClientLogin(b));
    typedOnly("decodeGreeting", () => m.decodeGreeting(b));
    typedOnly("decodeErr", () => m.decodeErr(b));
    typedOnly("decodeAuthSwitch", () => m.decodeAuthSwitch(b));
    typedOnly("okOrEofStatus", () => m.okOrEofStatus(b));
    typedOnly("decodePrepareOk", () => decodePrepareOk(b));
    typedOnly("statementId", () => statementId(b));
    typedOnly("decodeLongData", () => decodeLongData(b));
    typedOnly("decodeStmtExecute", () => decodeStmtExecute(b, next() % 9, next() % 2 ? types : undefined, new Set([next() % 4])));

    // The tracker never throws, whatever the order of packets.
    const t = new SessionTracker(next() % 2 === 0);
    const p: MysqlPacket = {
      seq: next() & 0xff,
      lastSeq: 0,
      payload: b,
      length: b.length,
      truncated: false,
    };
    t.onCommand(p);
    t.onServerPacket(p);
    t.onClientData(p);
    t.onServerPacket({ ...p, payload: b.subarray(1) });

    // Framing, split at random points.
    const scanner = new PacketScanner({
      maxPacketBytes: 1 << 16,
      keep: (x) => x,
    });
    const framer = new ClientFramer({
      smallBytes: 64,
      keepBytes: 16,
      maxPacketBytes: 1 << 16,
    });
    const cut = b.length === 0 ? 0 : next() % b.length;
    for (const part of [b.subarray(0, cut), b.subarray(cut)]) {
      typedOnly("PacketScanner.push", () => scanner.push(part));
      typedOnly("ClientFramer.push", () => framer.push(part));
    }
  }
  const elapsed = Date.now() - started;
  assert.ok(elapsed < 20_000, `fuzzing took ${elapsed} ms`);
});
