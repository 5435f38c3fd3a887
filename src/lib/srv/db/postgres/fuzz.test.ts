/**
 * Fuzz loop (seeded, so failures reproduce): random bytes and mutations of
 * captured client and server traffic through every parser the engine runs
 * on untrusted input. Each may only return or throw a PgProtocolError, and
 * the whole loop must finish quickly.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { auditKeep, QueryAuditor } from "./audit.ts";
import { BackendFramer, BackendReader, FrontendReader, takeStartupPacket } from "./codec.ts";
import { PgProtocolError } from "./errors.ts";
import * as msg from "./messages.ts";
import { allFixtures } from "./testdata.test-helpers.ts";

/** mulberry32: a small seeded PRNG. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  return { next, int, pick: <T>(xs: T[]): T => xs[int(xs.length)] as T };
}

const ITERATIONS = 12_000;

function mutate(r: ReturnType<typeof prng>, input: Buffer): Buffer {
  const b = Buffer.from(input);
  const ops = 1 + r.int(4);
  let out = b;
  for (let i = 0; i < ops; i++) {
    switch (r.int(6)) {
      case 0: // flip a byte
        if (out.length > 0) out[r.int(out.length)] = r.int(256);
        break;
      case 1: // cut short
        out = out.subarray(0, r.int(out.length + 1));
        break;
      case 2: // insert random bytes
        {
          const at = r.int(out.length + 1);
          const ins = Buffer.from(Array.from({ length: 1 + r.int(8) }, () => r.int(256)));
          out = Buffer.concat([out.subarray(0, at), ins, out.subarray(at)]);
        }
        break;
      case 3: // an extreme int32 somewhere (lengths, counts)
        if (out.length >= 4) out.writeInt32BE(r.pick([-1, 0, 3, 4, 5, 0x7fffffff, -0x80000000, 0x3fffffff, 10_001]), r.int(out.length - 3));
        break;
      case 4: // an extreme int16 (parameter and format counts)
        if (out.length >= 2) out.writeInt16BE(r.pick([-1, 0, 1, 2, 0x7fff, -0x8000]), r.int(out.length - 1));
        break;
      default: {
        // duplicate a slice
        const from = r.int(out.length + 1);
        out = Buffer.concat([out, out.subarray(from, from + r.int(64))]);
      }
    }
  }
  return out;
}

function split(r: ReturnType<typeof prng>, b: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < b.length; ) {
    const n = 1 + r.int(r.next() < 0.5 ? 8 : 512);
    out.push(b.subarray(i, i + n));
    i += n;
  }
  return out;
}

function onlyTyped(what: string, input: Buffer, f: () => void): void {
  try {
    f();
  } catch (e) {
    if (!(e instanceof PgProtocolError)) {
      assert.fail(`${what} threw ${e instanceof Error ? e.stack : String(e)} on ${input.toString("hex").slice(0, 400)}`);
    }
  }
}

test(`fuzz: ${ITERATIONS} random and mutated messages on both directions`, () => {
  const r = prng(0x5eed_d0b);
  const client = [...allFixtures("client").values()].map((c) => Buffer.concat(c));
  const server = [...allFixtures("server").values()].map((c) => Buffer.concat(c)).map((b) => (b[0] === 0x4e ? b.subarray(1) : b));
  const started = Date.now();
  let typedErrors = 0;
  for (let i = 0; i < ITERATIONS; i++) {
    const random = r.next() < 0.25;
    const fromClient = r.next() < 0.6;
    const base = random ? Buffer.from(Array.from({ length: r.int(300) }, () => r.int(256))) : mutate(r, r.pick(fromClient ? client : server));
    const chunks = split(r, base);
    if (fromClient) {
      // As the engine reads it: startup packets first, then typed messages through the auditor.
      const reader = new FrontendReader({ keep: auditKeep });
      const auditor = new QueryAuditor();
      onlyTyped("frontend reader", base, () => {
        for (const c of chunks) for (const it of reader.feed(c)) if ("message" in it) auditor.onMessage(it.message);
      });
      onlyTyped("takeStartupPacket", base, () => takeStartupPacket(base));
      // Typed phase from the first byte.
      const typed = new FrontendReader({ typed: true, keep: auditKeep });
      const a2 = new QueryAuditor();
      onlyTyped("typed reader", base, () => {
        for (const c of chunks) for (const it of typed.feed(c)) if ("message" in it) a2.onMessage(it.message);
      });
    } else {
      const reader = new BackendReader();
      onlyTyped("backend reader", base, () => {
        for (const c of chunks) {
          for (const m of reader.feed(c)) {
            if (m.type === "R") msg.decodeAuthentication(m.body);
            else if (m.type === "E" || m.type === "N") msg.decodeFields(m.body);
            else if (m.type === "S") msg.decodeParameterStatus(m.body);
            else if (m.type === "K") msg.decodeBackendKeyData(m.body);
            else if (m.type === "Z") msg.decodeReadyForQuery(m.body);
          }
        }
      });
      const framer = new BackendFramer(64);
      onlyTyped("framer", base, () => {
        let n = 0;
        for (const c of chunks) n += framer.push(c).reduce((s, b) => s + b.length, 0);
        assert.ok(n <= base.length);
      });
    }
    // Every decoder straight on random bodies.
    for (const d of [msg.decodeQuery, msg.decodeParse, msg.decodeBind, msg.decodeExecute, msg.decodeCopyFail]) {
      onlyTyped(d.name, base, () => d(base));
    }
    try {
      msg.decodeBind(base);
    } catch {
      typedErrors++;
    }
  }
  const elapsed = Date.now() - started;
  assert.ok(typedErrors > ITERATIONS / 2, "most random inputs are rejected");
  assert.ok(elapsed < 30_000, `fuzz loop took ${elapsed} ms`);
});

test("fuzz: a huge declared length is refused at once, not waited for", () => {
  const r = new FrontendReader({ typed: true, maxMessage: 1 << 20 });
  assert.throws(() => r.feed(Buffer.from("5100200000", "hex")), PgProtocolError);
  const s = new FrontendReader();
  assert.throws(() => s.feed(Buffer.from("7fffffff", "hex")), PgProtocolError);
});
