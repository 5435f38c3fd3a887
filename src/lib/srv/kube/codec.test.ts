import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import * as wsModule from "ws";
import { channelEncoding, exitCodeOfStatus, K8sChannelReader, parseResize, type WsEvent, WsFrameError, WsFrameParser } from "./codec.ts";

/** The ws library's frame writer (exported at run time, missing from its type definitions). */
const { Sender } = wsModule as unknown as {
  Sender: { frame(data: Buffer, o: { fin: boolean; opcode: number; mask: boolean; readOnly: boolean; rsv1: boolean }): Buffer[] };
};

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ""), "hex");

/** Collapses events into messages: [opcode, payload] per message or control frame. */
function messages(events: WsEvent[]): Array<[number, string]> {
  const out: Array<[number, string]> = [];
  let cur: { opcode: number; parts: Buffer[] } | undefined;
  for (const e of events) {
    if (e.type === "start") cur = { opcode: e.opcode, parts: [] };
    else if (e.type === "data") cur?.parts.push(e.data);
    else if (e.type === "end") {
      if (cur) out.push([cur.opcode, Buffer.concat(cur.parts).toString("latin1")]);
      cur = undefined;
    } else out.push([e.opcode, e.data.toString("latin1")]);
  }
  return out;
}

/** Feeds `bytes` split at random places. */
function parseSplit(bytes: Buffer, from: "client" | "server", maxPiece = 7): WsEvent[] {
  const p = new WsFrameParser({ from });
  const events: WsEvent[] = [];
  for (let i = 0; i < bytes.length; ) {
    const n = 1 + Math.floor(Math.random() * maxPiece);
    events.push(...p.push(bytes.subarray(i, i + n)));
    i += n;
  }
  return events;
}

/** Frames as the `ws` library writes them on the wire. */
function wsFrame(data: Buffer, o: { opcode: number; fin?: boolean; mask?: boolean }): Buffer {
  return Buffer.concat(Sender.frame(data, { fin: o.fin ?? true, opcode: o.opcode, mask: o.mask ?? false, readOnly: true, rsv1: false }));
}

describe("WsFrameParser: RFC 6455 §5.7 examples", () => {
  test("a single-frame unmasked text message", () => {
    assert.deepEqual(messages(new WsFrameParser({ from: "server" }).push(hex("81 05 48 65 6c 6c 6f"))), [[1, "Hello"]]);
  });
  test("a single-frame masked text message", () => {
    assert.deepEqual(messages(new WsFrameParser({ from: "client" }).push(hex("81 85 37 fa 21 3d 7f 9f 4d 51 58"))), [[1, "Hello"]]);
  });
  test("a fragmented unmasked text message", () => {
    assert.deepEqual(messages(parseSplit(hex("01 03 48 65 6c  80 02 6c 6f"), "server", 2)), [[1, "Hello"]]);
  });
  test("unmasked ping and masked pong", () => {
    assert.deepEqual(messages(new WsFrameParser({ from: "server" }).push(hex("89 05 48 65 6c 6c 6f"))), [[9, "Hello"]]);
    assert.deepEqual(messages(new WsFrameParser({ from: "client" }).push(hex("8a 85 37 fa 21 3d 7f 9f 4d 51 58"))), [[10, "Hello"]]);
  });
  test("256 bytes and 64 KiB binary messages (16- and 64-bit lengths)", () => {
    const a = Buffer.alloc(256, 0x61);
    assert.deepEqual(messages(parseSplit(Buffer.concat([hex("82 7e 01 00"), a]), "server", 50)), [[2, a.toString("latin1")]]);
    const b = Buffer.alloc(65536, 0x62);
    assert.deepEqual(messages(parseSplit(Buffer.concat([hex("82 7f 00 00 00 00 00 01 00 00"), b]), "server", 5000)), [[2, b.toString("latin1")]]);
  });
  test("a ping between the fragments of a message, and empty frames", () => {
    const bytes = hex("02 02 00 01  89 00  00 00  80 01 02  82 00");
    assert.deepEqual(messages(parseSplit(bytes, "server", 3)), [
      [9, ""],
      [2, "\x00\x01\x02"],
      [2, ""],
    ]);
  });
});

describe("WsFrameParser: frames the ws library writes", () => {
  test("random messages, masked and not, in random pieces, read back exactly", () => {
    for (let round = 0; round < 200; round++) {
      const from = round % 2 === 0 ? "server" : "client";
      const sent: Array<[number, string]> = [];
      const wire: Buffer[] = [];
      for (let i = 0; i < 5; i++) {
        const size = [0, 1, 125, 126, 127, 65535, 65536, 70000][Math.floor(Math.random() * 8)] ?? 0;
        const data = randomBytes(size);
        const opcode = Math.random() < 0.5 ? 1 : 2;
        // Sometimes in two fragments.
        if (size > 1 && Math.random() < 0.3) {
          wire.push(wsFrame(data.subarray(0, 1), { opcode, fin: false, mask: from === "client" }));
          wire.push(wsFrame(data.subarray(1), { opcode: 0, mask: from === "client" }));
        } else wire.push(wsFrame(data, { opcode, mask: from === "client" }));
        sent.push([opcode, data.toString("latin1")]);
      }
      assert.deepEqual(messages(parseSplit(Buffer.concat(wire), from, 3000)), sent);
    }
  });

  test("never changes the bytes it is given", () => {
    const frame = wsFrame(Buffer.from("secret output"), { opcode: 2, mask: true });
    const copy = Buffer.from(frame);
    new WsFrameParser({ from: "client" }).push(frame);
    assert.deepEqual(frame, copy);
  });
});

describe("WsFrameParser: what RFC 6455 forbids is refused", () => {
  const BAD: Array<[string, "client" | "server", string, RegExp]> = [
    ["reserved bits (compression)", "server", "c1 01 41", /reserved bits set/],
    ["unknown opcode", "server", "83 00", /unknown opcode 3/],
    ["unknown control opcode", "server", "8b 00", /unknown opcode 11/],
    ["fragmented control frame", "server", "09 00", /fragmented control frame/],
    ["long control frame", "server", "89 7e 00 7e", /control frame longer than 125 bytes/],
    ["continuation without a message", "server", "80 00", /continuation frame without a message/],
    ["a new message inside another", "server", "01 01 41  81 01 42", /new message before the previous one ended/],
    ["masked server frame", "server", "81 81 00 00 00 00 41", /a server frame is masked/],
    ["unmasked client frame", "client", "81 01 41", /a client frame is not masked/],
    ["64-bit length beyond 2^53", "server", "82 7f ff 00 00 00 00 00 00 00", /frame length out of range/],
    ["data after close", "server", "88 02 03 e8  81 00", /data after a close frame/],
  ];
  for (const [name, from, bytes, re] of BAD) {
    test(name, () => {
      const p = new WsFrameParser({ from });
      assert.throws(
        () => p.push(hex(bytes)),
        (e: unknown) => e instanceof WsFrameError && re.test(e.message),
      );
      // And it stays failed.
      assert.throws(() => p.push(hex("81 00")), WsFrameError);
    });
  }
});

test("WsFrameParser: what a chunk completed before a problem is kept in the error", () => {
  const p = new WsFrameParser({ from: "server" });
  assert.throws(
    () => p.push(hex("82 02 01 41  88 00  81 00")),
    (e: unknown) => e instanceof WsFrameError && messages(e.before).length === 2 && /data after a close frame/.test(e.message),
  );
});

describe("WsFrameParser fuzz", () => {
  test("random bytes and mutated frames never throw anything but WsFrameError", () => {
    const valid = Buffer.concat([
      wsFrame(Buffer.from("\x01hello"), { opcode: 2 }),
      wsFrame(Buffer.from("x"), { opcode: 9 }),
      wsFrame(randomBytes(300), { opcode: 2 }),
    ]);
    for (let i = 0; i < 5000; i++) {
      let bytes: Buffer;
      if (i % 2 === 0) bytes = randomBytes(Math.floor(Math.random() * 200));
      else {
        bytes = Buffer.from(valid);
        for (let k = 0; k < 3; k++) bytes[Math.floor(Math.random() * bytes.length)] = Math.floor(Math.random() * 256);
      }
      for (const from of ["client", "server"] as const) {
        try {
          const events = parseSplit(bytes, from, 40);
          for (const e of events) if (e.type === "data") assert.ok(e.data.length <= bytes.length);
        } catch (e) {
          assert.ok(e instanceof WsFrameError, String(e));
        }
      }
    }
  });
});

describe("K8sChannelReader", () => {
  const collect = (encoding: "binary" | "base64") => {
    const got: Array<[number, string]> = [];
    const ended: number[] = [];
    const partial = new Map<number, string>();
    const reader = new K8sChannelReader(encoding, {
      data: (ch, d) => partial.set(ch, (partial.get(ch) ?? "") + d.toString("latin1")),
      end: (ch) => {
        got.push([ch, partial.get(ch) ?? ""]);
        partial.delete(ch);
        ended.push(ch);
      },
    });
    return { reader, got };
  };

  test("v5.channel.k8s.io: channel byte first, any fragmentation", () => {
    const { reader, got } = collect("binary");
    const wire = Buffer.concat([
      wsFrame(Buffer.from("\x01total 0\r\n"), { opcode: 2 }),
      wsFrame(Buffer.from("\x02"), { opcode: 2, fin: false }),
      wsFrame(Buffer.from("oops\n"), { opcode: 0 }),
      wsFrame(Buffer.from("ping"), { opcode: 9 }),
      wsFrame(Buffer.from("not a channel message"), { opcode: 1 }),
      wsFrame(Buffer.from([255, 0]), { opcode: 2 }),
      wsFrame(Buffer.from('\x03{"metadata":{},"status":"Success"}'), { opcode: 2 }),
    ]);
    reader.push(parseSplit(wire, "server", 4));
    assert.deepEqual(got, [
      [1, "total 0\r\n"],
      [2, "oops\n"],
      [255, "\x00"],
      [3, '{"metadata":{},"status":"Success"}'],
    ]);
  });

  test("base64.channel.k8s.io: channel digit first, base64 split anywhere", () => {
    const { reader, got } = collect("base64");
    const text = `1${Buffer.from("hello, world\n").toString("base64")}`;
    const wire = Buffer.concat([
      wsFrame(Buffer.from(text.slice(0, 6)), { opcode: 1, fin: false }),
      wsFrame(Buffer.from(text.slice(6)), { opcode: 0 }),
      wsFrame(Buffer.from("c"), { opcode: 1 }),
    ]);
    reader.push(parseSplit(wire, "server", 3));
    assert.deepEqual(got, [[1, "hello, world\n"]]);
  });

  test("subprotocols", () => {
    assert.equal(channelEncoding("v5.channel.k8s.io"), "binary");
    assert.equal(channelEncoding("v4.channel.k8s.io"), "binary");
    assert.equal(channelEncoding("channel.k8s.io"), "binary");
    assert.equal(channelEncoding("v4.base64.channel.k8s.io"), "base64");
    assert.equal(channelEncoding("base64.channel.k8s.io"), "base64");
    assert.equal(channelEncoding("v4.portforward.k8s.io"), undefined);
    assert.equal(channelEncoding("SPDY/3.1"), undefined);
  });

  test("exit codes and resize messages", () => {
    assert.equal(exitCodeOfStatus('{"metadata":{},"status":"Success"}'), 0);
    assert.equal(
      exitCodeOfStatus(
        '{"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code: exit status 3","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"3"}]}}',
      ),
      3,
    );
    assert.equal(exitCodeOfStatus('{"status":"Failure","message":"container not found"}'), undefined);
    assert.equal(exitCodeOfStatus("{"), undefined);
    assert.equal(exitCodeOfStatus("null"), undefined);
    assert.deepEqual(parseResize('{"Width":120,"Height":40}'), { cols: 120, rows: 40 });
    assert.equal(parseResize('{"Width":-1,"Height":40}'), undefined);
    assert.equal(parseResize("[]"), undefined);
    assert.equal(parseResize("nope"), undefined);
  });
});
